"""Binds every workbook feature under ``features/`` to the step definitions."""

from pytest_bdd import scenarios

scenarios(".")
