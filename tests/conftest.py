"""Fixtures shared by the whole test suite."""

from tests.postgres import postgres_server  # noqa: F401  (registers the session fixture)
