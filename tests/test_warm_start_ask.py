"""A warm-started study driven by ask and tell learns from its parents' trials as ``optimize``
and ``tunewise run`` do (before: ``study.ask`` left them out, and a child with its parent's
seed repeated the parent's first suggestions), and its suggestions replay."""

from __future__ import annotations

from pathlib import Path

import tunewise as tw
from tunewise.replay import REPRODUCED

SPACE = {"x": tw.Float(0.0, 1.0), "y": tw.Float(0.0, 1.0)}


def test_ask_in_a_warm_started_study_starts_from_its_parents_trials(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    parent = tw.create_study(
        "parent", direction="minimize", space=SPACE, strategy="bayesian", seed=4, storage=url
    )
    for _ in range(12):
        asked = parent.ask()
        parent.tell(asked, (asked.params["x"] - 0.3) ** 2 + asked.params["y"])
    child = tw.create_study(
        "child", direction="minimize", space=SPACE, strategy="bayesian", seed=4, storage=url,
        warm_start={"parents": ["parent"], "type": "identical"},
    )  # fmt: skip
    firsts = []
    for _ in range(3):
        asked = child.ask()
        firsts.append(dict(asked.params))
        child.tell(asked, (asked.params["x"] - 0.3) ** 2 + asked.params["y"])
    # 12 parent trials are past bayesian's initial design: the child's first asks come from
    # the model, not from the seed's initial points that the parent began with
    assert firsts != [dict(t.params) for t in parent.trials[:3]]
    assert child.trials[0].suggestion["parents"] == [[parent.trials[0].study_id, 12, 12]]
    assert child.replay().count(REPRODUCED) == 3
    child.close()
    parent.close()
