"""What the guide pages show matches what tunewise does: the main job the getting-started page
explains is examples/mlp_digits.yaml, and the SageMaker walkthrough's spec is what
import-sagemaker makes of its request."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tunewise.integrations.sagemaker import import_request
from tunewise.spec import StudySpec
from tunewise.specfile import load_spec_data

ROOT = Path(__file__).resolve().parents[2]


def blocks(page: str, language: str) -> list[str]:
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    return re.findall(rf"^```{language}[^\n]*\n(.*?)^```", text, re.S | re.M)


def test_getting_started_explains_the_demo_spec_as_it_is() -> None:
    shown = load_spec_data(blocks("getting-started.md", "yaml")[0], "getting-started.md")
    example = ROOT / "examples" / "mlp_digits.yaml"
    assert shown == load_spec_data(example.read_text(encoding="utf-8"), str(example))


def test_getting_started_has_a_row_per_line_of_the_spec() -> None:
    text = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    shown = load_spec_data(blocks("getting-started.md", "yaml")[0], "getting-started.md")
    rows = [line.split("|")[1] for line in text.splitlines() if line.startswith("| `")]
    for key in [*shown, *shown["space"]]:
        assert any(f"`{key}" in row for row in rows), key


def test_the_sagemaker_walkthrough_is_what_import_sagemaker_makes() -> None:
    request = json.loads(next(b for b in blocks("migration/sagemaker.md", "text") if "{" in b))
    imported = import_request(request, command=["python", "train.py"])
    shown = load_spec_data(blocks("migration/sagemaker.md", "yaml")[0], "sagemaker.md")
    assert StudySpec.from_dict(shown) == StudySpec.from_dict(imported.spec)
    page = (ROOT / "docs" / "migration" / "sagemaker.md").read_text(encoding="utf-8")
    assert 'tunewise import-sagemaker job.json -o spec.yaml --command "python train.py"' in page
