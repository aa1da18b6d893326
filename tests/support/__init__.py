"""Helpers shared by the tests. Fixtures live in conftest files, found by pytest; test modules import
helpers from here and never from another test module or a conftest."""
