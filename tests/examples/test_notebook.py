"""The example notebook runs, top to bottom, in a real Jupyter kernel (nbclient + ipykernel):
no cell fails, the progress display draws in the cell, and the five plots come out as plotly
figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebooks" / "quickstart.ipynb"
PLOTLY = "application/vnd.plotly.v1+json"


def outputs(cell: Any) -> list[dict[str, Any]]:
    return [dict(out) for out in cell.get("outputs", [])]


def test_the_quickstart_notebook_runs_and_draws_its_plots(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells), "commit it without outputs"
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working folder
    )
    client.execute()  # raises CellExecutionError, quoting the cell, if any cell fails

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    every = [out for cell in code for out in outputs(cell)]
    assert not [out for out in every if out["output_type"] == "error"]

    figures = [out["data"][PLOTLY] for out in every if PLOTLY in out.get("data", {})]
    titles = [figure["layout"]["title"]["text"] for figure in figures]
    assert len(figures) == 5, titles
    for title in ("Optimization history", "Hyperparameter importance", "Parallel coordinates",
                  "Slice", "Learning curves"):  # fmt: skip
        assert any(t.startswith(title) for t in titles), (title, titles)
    assert all(figure["data"] for figure in figures), "15 trials draw something in every plot"

    optimize = next(cell for cell in code if "study.optimize(" in cell.source)
    shown = json.dumps(outputs(optimize))
    assert "<progress" in shown and "trials 15/15" in shown, shown[:2000]

    best = next(cell for cell in code if cell.source.startswith("study.best_params"))
    result = next(out for out in outputs(best) if out["output_type"] == "execute_result")
    assert "'lr'" in result["data"]["text/plain"]
