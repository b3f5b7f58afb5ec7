"""Fixtures of the worker tests: the fault-injection suite's process launcher (every process a
test starts is SIGKILLed at teardown if still alive; nothing else is signalled), and the
figures the tests measured, printed at the end of the run."""

from typing import Any

from tests.reliability.conftest import launcher  # noqa: F401  (registers the fixture)
from tests.workers.helpers import FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("worker figures")
    for rid, text in sorted(FIGURES):
        terminalreporter.write_line(f"{rid}: {text}")
