"""The study page's "Proposed ranges" block: a finished study shows what ``tunewise
suggest-ranges`` proposes; a running one shows none (issue 27 §4)."""

from __future__ import annotations

from pathlib import Path

import tunewise as tw
from tests.server.conftest import client_for
from tests.studies import loss_study


def test_a_finished_study_shows_its_proposed_ranges(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ranges.db'}"
    study = loss_study(url, "ranges", {"x": tw.Float(0.0, 5.0)})
    for i in range(28):
        study.add_trial({"x": 5 * i / 27}, (5 * i / 27 - 7) ** 2)
    with client_for(url) as client:
        assert "Proposed ranges" not in client.get("/studies/ranges").text  # still running
    study.optimize(lambda p: (p["x"] - 7) ** 2, n_trials=2, progress=False)
    assert study.state == tw.StudyState.COMPLETED
    with client_for(url) as client:
        page = client.get("/studies/ranges")
        assert page.status_code == 200
        assert "Proposed ranges" in page.text
        assert "widen high 5.0 -&gt; 7.5" in page.text
        assert "tunewise suggest-ranges ranges -o next.yaml" in page.text
    study.close()
