"""Pure decisions: stop a running trial early, or end the whole study (with a reason)."""

from tunewise.stopping.completion import Completion, check_limits

__all__ = ["Completion", "check_limits"]
