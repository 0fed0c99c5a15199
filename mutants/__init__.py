"""The mutation check of the system under test (`make mutants`): realistic integration faults,
each applied to a copy of the project, with the demo billers' workbooks run as the test."""
