"""Stop and resume over HTTP: the only writes the server makes, and only with --allow-control.

Both change the study's *stored state* and nothing else: the server never starts, signals or
kills a process. The change is one conditional write (``set_study_state(only_from=...)``): it
is stored, committed, before the response is sent, and only if the study is still in a state
the action applies to (a study that completed a moment before is left completed: 409). The
driver that runs the study (``tunewise run``, a worker) reads the stored state before it adds
trials and every second: after a stop it starts no new trial and ends its running ones; a
stopped study continues when its spec is run again.

Only studies defined from a spec file can be controlled: their stored definition names the
trial to run (``trial: {python: ...}`` or ``trial: {command: [...]}``), so whoever resumes them
runs what the file says. A study created from Python (``create_study`` + ``optimize(func)``) is
driven by that Python process and is refused.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

from tunewise.errors import IllegalTransition
from tunewise.store.base import Store
from tunewise.trial import StudyState

#: Which states each action may start from, and the state it records.
ACTIONS: dict[str, tuple[frozenset[StudyState], StudyState]] = {
    "stop": (frozenset({StudyState.RUNNING}), StudyState.STOPPED),
    "resume": (frozenset({StudyState.STOPPED}), StudyState.RUNNING),
}


def change_state(store: Store, name: str, action: str, note: str | None) -> dict[str, Any]:
    """Record ``action`` (stop or resume) on study ``name``; 409 when it does not apply."""
    record = store.get_study(name)
    if not isinstance(record.definition.get("trial"), dict):
        raise HTTPException(
            409,
            f"study {name!r} was not defined from a spec file; control it from the Python "
            "process that runs it",
        )
    sources, target = ACTIONS[action]
    if action == "stop":
        reason = "stopped from the dashboard" + (f": {note}" if note else "")
    else:
        reason = None
    try:
        store.set_study_state(record.id, target, reason, only_from=sources)
    except IllegalTransition:
        state = str(store.get_study(name).state)
        raise HTTPException(
            409, f"study {name!r} is {state}: it cannot be asked to {action}"
        ) from None
    message = (
        "stop stored (one committed write): the study's driver starts no new trial from now "
        "on and ends its running trials; the study stays stopped until it is resumed"
        if action == "stop"
        else "resume stored (one committed write); run `tunewise run SPEC` (or a worker) to "
        "run its trials: this server starts no process"
    )
    return {
        "name": name,
        "state": str(target),
        "reason": reason,
        "stored": True,
        "message": message,
    }
