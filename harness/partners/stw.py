"""STW/OpenGov: a partner whose integration is files, each layout the biller's own (``files:`` in its profile).

Its adapter is the file codec alone: what a line means is the layout's and the transaction codes'
(``codes:`` in ``fixtures/partners/stw.yaml``), so STW needs no code of its own beyond registering
it. A partner whose lines need more reading (a method folded into the transaction code, say)
subclasses ``FileCodec`` here.
"""

from harness.partners.base import Adapter
from harness.partners.files import FileCodec

ADAPTER = Adapter(files=FileCodec)
