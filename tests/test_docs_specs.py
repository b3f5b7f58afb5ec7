"""Every spec the documentation shows loads as a spec: the README's and docs' ```yaml blocks,
the inline ``key: value`` snippets of spec keys, and the example files.

A block that is a whole spec (it has ``study:``) loads as it is; a block or snippet that shows
some keys is merged into the README's first whole spec, as a reader would paste it. (The
README's ``retries: {max_attempts: 2, on: [crashed, lost]}`` once failed: YAML 1.1 reads the
key ``on`` as True.)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tunewise.spec import StudySpec, parse_spec_text
from tunewise.specfile import load_spec_data

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)
SNIPPET = re.compile(r"`([a-z_]+): ([^`]+)`")


def blocks() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for i, match in enumerate(BLOCK.finditer(page.read_text(encoding="utf-8"))):
            found.append((f"{page.name}#yaml{i}", match.group(1)))
    return found


def snippets() -> list[str]:
    """Inline ``key: value`` code spans whose key is a top-level spec key."""
    found = set()
    for page in PAGES:
        for match in SNIPPET.finditer(page.read_text(encoding="utf-8")):
            if match.group(1) in StudySpec.KEYS:
                found.add(match.group(0).strip("`"))
    return sorted(found)


BASE_TEXT = next(text for _, text in blocks() if re.search(r"^study:", text, re.M))


def base() -> dict[str, Any]:
    return dict(load_spec_data(BASE_TEXT, "README.md"))


def merged(part: dict[str, Any]) -> dict[str, Any]:
    """The README's whole spec with ``part``'s keys, as a reader would paste them; ``...`` in
    an enqueued configuration ("and the other hyperparameters") is filled in."""
    data = {**base(), **part}
    if "objectives" in part:  # the README shows them instead of `objective:`
        del data["objective"]
    target = part.get("completion", {}).get("target")
    if isinstance(target, dict):  # a value per objective: the README's two objectives
        objectives = next(s for s in snippets() if s.startswith("objectives:"))
        del data["objective"]
        data.update(load_spec_data(objectives, "README.md"))
    if "hyperband" in part:  # the README shows it with `strategy: hyperband`
        data["strategy"] = "hyperband"
    if data.get("strategy") == "hyperband" and "hyperband" not in data:
        hyperband = next(s for s in snippets() if s.startswith("hyperband:"))
        data.update(load_spec_data(hyperband, "README.md"))
    space = StudySpec.from_dict(base()).space
    if "enqueue" in data:
        filled = []
        for config in data["enqueue"]:
            given = {k: v for k, v in config.items() if k != "..."}
            rest = {n: p.from_unit(0.5) for n, p in space.params.items() if n not in given}
            filled.append({**given, **rest})
        data["enqueue"] = filled
    return data


def test_the_pages_show_specs_to_check() -> None:
    assert len(blocks()) >= 4 and len(snippets()) >= 5
    assert "retries: {max_attempts: 2, on: [crashed, lost]}" in snippets()


@pytest.mark.parametrize(("where", "text"), blocks(), ids=[w for w, _ in blocks()])
def test_every_yaml_block_loads_as_a_spec(where: str, text: str) -> None:
    if re.search(r"^study:", text, re.M):
        parse_spec_text(text, where)
    else:
        StudySpec.from_dict(merged(dict(load_spec_data(text, where))))


@pytest.mark.parametrize("snippet", snippets())
def test_every_inline_spec_snippet_loads(snippet: str) -> None:
    StudySpec.from_dict(merged(dict(load_spec_data(snippet, "README.md"))))


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_spec_loads(path: Path) -> None:
    parse_spec_text(path.read_text(encoding="utf-8"), str(path))
