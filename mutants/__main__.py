"""`python -m mutants`: see ``mutants.run``."""

import sys

from mutants.run import main

sys.exit(main())
