"""Shared test setup; fixture modules are plugins so test files need no imports for them."""

pytest_plugins = ["sim_fixtures", "pg_fixtures"]
