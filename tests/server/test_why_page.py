"""The trial page's "Why this trial" block and ``GET .../trials/{n}/why``: the document
``tunewise why`` prints (issue 27 §2)."""

from __future__ import annotations

from pathlib import Path

import tunewise as tw
from tests.server.conftest import client_for
from tests.studies import loss_study

SPACE = {"x": tw.Float(0.0, 1.0), "k": tw.Int(1, 4)}


def test_the_trial_page_says_why_the_trial_was_suggested(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'why.db'}"
    study = loss_study(url, "why", SPACE, seed=4)
    study.enqueue_trial({"x": 0.5, "k": 2})
    study.optimize(lambda p: (p["x"] - 0.3) ** 2 + p["k"], n_trials=3, progress=False)
    with client_for(url) as client:
        page = client.get("/studies/why/trials/2")
        assert page.status_code == 200
        assert "Why this trial" in page.text
        summary = "sampled uniformly (each parameter in its unit encoding), seed 4, draw 2"
        assert summary in page.text
        assert "reproduces exactly" in page.text
        enqueued = client.get("/studies/why/trials/0")
        assert "Why this trial" in enqueued.text and "no suggestion record" in enqueued.text
        doc = client.get("/api/studies/why/trials/2/why").json()
        assert doc == {**study.why(2), "lines": doc["lines"]}
        assert doc["lines"][0].startswith("trial 2 of why: sampled uniformly")
        assert client.get("/api/studies/why/trials/9/why").status_code == 404
