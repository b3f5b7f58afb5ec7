"""``study.trials_dataframe()``, ``tunewise report`` and ``tunewise plot`` on a stored study."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import tunewise as tw
from tests.server.helpers import make_study
from tunewise.cli.main import main


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("faces")
    url = f"sqlite:///{root / 'faces.db'}"
    make_study(url, root / "runs", n=30, running=1)
    return url


def test_trials_dataframe(stored: str) -> None:
    study = tw.load_study("demo", storage=stored)
    try:
        frame = study.trials_dataframe()
    finally:
        study.close()
    assert len(frame) == 31 and frame["number"].tolist() == list(range(31))
    for column in ("state", "value", "params_lr", "params_act", "metrics_loss", "duration"):
        assert column in frame.columns
    assert pd.api.types.is_timedelta64_dtype(frame["duration"])
    assert set(frame["state"]) == {"completed", "stopped", "failed", "running"}
    assert frame.loc[frame["state"] == "failed", "failure_kind"].eq("user_error").all()


def test_report_is_one_self_contained_file(stored: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "report.html"
    assert main(["report", "demo", "--storage", stored, "-o", str(out)]) == 0
    html = out.read_text()
    assert "plotly.js v" in html and 'id="figures-data"' in html
    markup = re.sub(r"<script>.*?</script>", "", html, flags=re.DOTALL)  # inlined code
    assert "<script src" not in markup and '<link rel="stylesheet"' not in markup
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", markup), "nothing from outside"
    for kind in ("history", "importance", "parallel", "slice", "curves"):
        assert f'id="fig-{kind}"' in html
    assert html.count("<tr>") >= 31  # the trials table, the best first
    assert "wrote the report of demo" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["history", "importance", "parallel", "slice", "curves"])
def test_plot_png_and_html(stored: str, tmp_path: Path, kind: str) -> None:
    png = tmp_path / f"{kind}.png"
    assert main(["plot", "demo", kind, "--storage", stored, "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    if kind == "parallel":
        page = tmp_path / "parallel.html"
        assert main(["plot", "demo", kind, "--storage", stored, "-o", str(page)]) == 0
        assert '"type":"parcoords"' in page.read_text()


def test_plot_and_report_refuse_bad_input_in_one_sentence(
    stored: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jpg = str(tmp_path / "x.jpg")
    assert main(["plot", "demo", "history", "--storage", stored, "-o", jpg]) == 2
    assert "--output" in capsys.readouterr().err
    assert main(["report", "nope", "--storage", stored, "-o", str(tmp_path / "r.html")]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["report", "demo", "--storage", stored, "-o", "/no/such/dir/r.html"]) == 2
