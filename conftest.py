"""The sit-harness pytest plugin and the workbook's step definitions, for every test run."""

from steps import STEP_MODULES

pytest_plugins = ["harness.plugin", *STEP_MODULES]
