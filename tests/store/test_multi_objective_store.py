"""A study with several objectives and constraints reads back and continues on SQLite and
PostgreSQL; a stored study without those keys still loads (issue 23)."""

from __future__ import annotations

import pytest

import tunewise as tw
from tunewise.spec import StudySpec
from tunewise.store import open_store


@pytest.fixture(params=["sqlite-file", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


OBJECTIVES = [tw.Objective("accuracy", "maximize"), tw.Objective("latency_ms", "minimize")]
CONSTRAINTS = [tw.Constraint("memory_mb", max=512), tw.Constraint("accuracy", min=0.5)]


def make(url: str, constraints: list[tw.Constraint]) -> tw.Study:
    return tw.create_study(
        "mo",
        objectives=OBJECTIVES,
        constraints=constraints,
        space={"x": tw.Float(0, 1)},
        strategy="random",
        storage=url,
    )


def test_objectives_constraints_and_front_read_back(store_url: str) -> None:
    study = make(store_url, CONSTRAINTS)
    for acc, lat, mem in [(0.9, 10.0, 100.0), (0.8, 5.0, 100.0), (0.4, 1.0, 1.0), (1.0, 1.0, 600)]:
        study.tell(study.ask(), {"accuracy": acc, "latency_ms": lat, "memory_mb": mem})
    study.close()

    again = tw.load_study("mo", storage=store_url)
    assert again.spec.objectives == tuple(OBJECTIVES)
    assert again.spec.constraints == tuple(CONSTRAINTS)
    assert [t.number for t in again.best_trials] == [0, 1]
    # The same definition continues the study; another constraint is another study.
    same = make(store_url, CONSTRAINTS)
    assert len(same.trials) == 4
    same.close()
    with pytest.raises(tw.SpecError):
        make(store_url, CONSTRAINTS[:1])
    again.close()


def test_a_definition_without_the_new_keys_loads(store_url: str) -> None:
    stored = {
        "study": "old",
        "objective": {"metric": "loss", "direction": "minimize"},
        "strategy": "random",
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "static": {},
    }
    store = open_store(store_url)
    store.create_study("old", StudySpec.from_dict(stored).to_dict())
    store.close()
    study = tw.load_study("old", storage=store_url)
    assert study.spec.objectives == (tw.Objective("loss", "minimize"),)
    assert study.spec.constraints == ()
    study.close()
