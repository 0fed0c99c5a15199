"""The workbook's step definitions, for every test run (the plugin itself comes by its pytest11 entry point)."""

from steps import STEP_MODULES

pytest_plugins = STEP_MODULES
