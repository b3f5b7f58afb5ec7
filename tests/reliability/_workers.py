"""Worker processes of the fault-injection suite: ``python -m tests.reliability._workers NAME``.

Each worker is a small program a test starts, kills or stops; it speaks through its stdout
(one JSON line per fact) and exits non-zero with the traceback on stderr when anything fails,
so a test sees every error any worker met.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import sys
import time
import traceback
from collections.abc import Callable

import tunewise as tw
from tunewise.store import open_store
from tunewise.trial import TrialState

SPACE = {"x": tw.Float(0.0, 1.0)}
OBJECTIVE = tw.Objective("score", "maximize")
LEASE = {"heartbeat": "1s", "grace": "3s"}


def say(**facts: object) -> None:
    print(json.dumps(facts), flush=True)


def study_for(url: str, name: str, lease: dict[str, str] | None = None) -> tw.Study:
    """The suite's study definition: creates it, or continues the stored one."""
    return tw.create_study(
        name,
        objective=OBJECTIVE,
        space=SPACE,
        strategy="random",
        storage=url,
        seed=7,
        lease=lease or LEASE,
    )


def wait_for(path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout:g}s")
        time.sleep(0.01)


def hold(url: str, name: str) -> None:
    """Ask for a trial, say its number, then train forever (the heartbeat thread renews the
    lease) until the test kills this process."""
    study = study_for(url, name)
    trial = study.ask()
    say(number=trial.number, attempt=trial.attempt, pid=os.getpid())
    time.sleep(120)


def asktell(url: str, name: str, count: str, api: str, go: str) -> None:
    """``count`` trials asked and told, from the moment file ``go`` exists.

    ``api=study``: ``study.ask()`` / ``study.tell()``. ``api=store``: the same lease protocol
    as store calls (expire leases, claim a queued trial, add a leased trial, finish it as its
    owner) without reading the whole history on every ask. ``count`` 0: until ``go.stop``
    exists. Says the numbers it was given.
    """
    study = study_for(url, name, {"heartbeat": "10s", "grace": "30s"})
    store = open_store(url) if api == "store" else None
    sid = study.store.get_study(name).id
    owner = f"asktell:{os.getpid()}"
    rng = random.Random(os.getpid())
    numbers: list[int] = []

    def one_study() -> int:
        trial = study.ask()
        study.tell(trial, float(trial.params["x"]))
        return trial.number

    def one_store() -> int:
        assert store is not None
        store.expire_leases(sid, max_attempts=2)
        claimed = store.claim_trial(sid, owner, 30.0)
        if claimed is None:
            claimed = store.add_trial(sid, {"x": rng.random()}, owner=owner, lease_seconds=30.0)
        value = float(claimed.params["x"])
        store.finish_trial(
            sid,
            claimed.number,
            TrialState.COMPLETED,
            value=value,
            metrics={"score": value},
            owner=owner,
        )
        return claimed.number

    one: Callable[[], int] = one_store if api == "store" else one_study
    say(ready=os.getpid())
    wait_for(go)
    start = time.monotonic()
    limit = int(count)
    while (limit and len(numbers) < limit) or (not limit and not os.path.exists(go + ".stop")):
        numbers.append(one())
    say(numbers=numbers, seconds=time.monotonic() - start)
    study.close()
    if store is not None:
        store.close()


def stall(url: str, name: str, runs: str, seconds: str, go: str) -> None:
    """``runs`` trials, each: ask, train until the heartbeat thread renewed the lease once,
    train 0.5 s more, hold the GIL for ``seconds`` (a C call that does not release it, so the
    heartbeat thread cannot run), train 0.5 s, tell — longer than the grace period in all, so
    the lease lives only if the heartbeats resume after the stall. The stall starts half a
    heartbeat after a beat (the average case: with heartbeat 1 s and grace 3 s, a 2 s stall
    leaves 0.5 s); each run asks through a new Study (so a new heartbeat thread): a stall at
    once after ask() and the exiting-thread race have tests of their own. Says each trial's
    number, attempt, state, how long it ran and by how much the stall ended before the lease
    deadline it had when it began."""
    usleep = ctypes.PyDLL(None).usleep  # PyDLL: the GIL stays held during the call
    usleep.argtypes = [ctypes.c_uint]
    study_for(url, name).close()
    say(ready=os.getpid())
    wait_for(go)
    for _ in range(int(runs)):
        study = study_for(url, name)
        sid = study.store.get_study(name).id
        trial = study.ask()
        started = time.monotonic()
        leased = study.store.get_trial(sid, trial.number)
        while leased.heartbeat_at == trial.heartbeat_at:  # until the first renewal
            if time.monotonic() - started > 10:
                raise TimeoutError("the heartbeat thread never renewed the lease")
            time.sleep(0.02)
            leased = study.store.get_trial(sid, trial.number)
        time.sleep(0.5)
        usleep(int(float(seconds) * 1e6))
        assert leased.lease_deadline is not None
        margin = leased.lease_deadline.timestamp() - time.time()
        time.sleep(0.5)
        ran = time.monotonic() - started
        told = study.tell(trial, 0.5)
        study.close()
        say(
            number=trial.number,
            attempt=told.attempt,
            state=str(told.state),
            ran=ran,
            margin=margin,
        )


def late_tell(url: str, name: str, go: str) -> None:
    """Ask, then (after the test stopped us long enough for the lease to be taken over) tell
    late: the refusal must be an error we can catch; we report it and exit 0."""
    study = study_for(url, name)
    trial = study.ask()
    say(number=trial.number, pid=os.getpid())
    wait_for(go, timeout=120)
    try:
        study.tell(trial, 0.25)
    except tw.StoreError as exc:
        say(refused=type(exc).__name__, message=str(exc))
    else:
        say(refused=None)
    study.close()


def main() -> None:
    name, *args = sys.argv[1:]
    workers: dict[str, Callable[..., None]] = {
        "hold": hold,
        "asktell": asktell,
        "stall": stall,
        "late_tell": late_tell,
    }
    try:
        workers[name](*args)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)  # no interpreter teardown: heartbeat threads are daemons


if __name__ == "__main__":
    main()
