"""The study page's "Space versions" block: an edited study shows each version, when it
began and what it changed, and the trials set aside; a study never edited shows none
(issue 27 §1)."""

from __future__ import annotations

from pathlib import Path

import tunewise as tw
from tests.server.conftest import client_for
from tests.studies import loss_study


def test_an_edited_study_shows_its_space_versions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'edited.db'}"
    study = loss_study(url, "edited", {"x": tw.Float(0.0, 1.0), "k": tw.Categorical(["a", "b"])})
    for i in range(4):
        study.add_trial({"x": i / 4, "k": "a"}, float(i))
    with client_for(url) as client:
        assert "Space versions" not in client.get("/studies/edited").text
    study.set_space({"x": tw.Float(0.5, 2.0)}, static={"k": "a"})
    with client_for(url) as client:
        page = client.get("/studies/edited")
        assert page.status_code == 200
        assert "Space versions" in page.text
        assert "x: moved [0.0, 1.0] -&gt; [0.5, 2.0]; k: removed, fixed at &#39;a&#39;" in page.text
        assert "sets aside <b>2</b> of 4 finished trials" in page.text
        assert "2 of 4 trials have x outside [0.5, 2.0]" in page.text
    study.close()
