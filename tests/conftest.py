"""Fixtures shared by the whole test suite."""

import signal

import pytest

from tests.postgres import postgres_server  # noqa: F401  (registers the session fixture)


def pytest_configure(config: pytest.Config) -> None:
    """Make SIGINT interruptible again in the processes the tests start.

    A suite started in a shell's background job (``make test &``, a CI runner's script without
    job control) inherits SIGINT *ignored*, and every process it starts would too: the tests
    that stop a worker or a driver with Ctrl-C's signal would wait for nothing. A handled signal
    is reset to its default in a started program (an ignored one stays ignored), so handling it
    here gives those processes Python's usual KeyboardInterrupt.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
