"""sit-harness: executable System Integration Testing for billing-platform partner integrations.

The public surface is small on purpose; everything else lives in private-by-convention
modules behind it and may change.
"""

from importlib.metadata import version

from harness.errors import SitError

__version__ = version("sit-harness")

__all__ = ["SitError", "__version__"]
