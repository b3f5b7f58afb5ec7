"""Rendering shared by the live pages, the report and ``tunewise plot -o FILE.html``:
Jinja2 templates (autoescaped), the static files, JSON made safe for ``<script>`` elements.

No FastAPI here, so reports and plots are written without a web framework installed.

``plotly.min.js`` is read from the ``plotly`` package (a dependency of the ``dashboard`` extra)
rather than copied into this repository: it is updated with the package, keeps its own MIT
licence header, and the repository does not carry a 4.8 MB file.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from tunewise.analysis import kinds_for
from tunewise.server.data import StudyData

#: plotly needs eval (its WebGL traces compile shaders) and inline styles.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
_SCRIPT_END = re.compile(r"</(script)", re.IGNORECASE)
STATIC_TYPES = {
    "style.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "plotly.min.js": "text/javascript; charset=utf-8",
}


@functools.cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("tunewise.server", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def render(template: str, **context: Any) -> str:
    context.setdefault("inline", None)
    context.setdefault("study", None)
    context.setdefault("number", None)
    return environment().get_template(template).render(**context)


def plotly_path() -> Path:
    """plotly.js as shipped in the ``plotly`` package.

    Raises:
        FileNotFoundError: the ``plotly`` package is not installed.
    """
    try:
        root = resources.files("plotly")
    except ModuleNotFoundError:
        raise FileNotFoundError(
            "plotly.min.js comes from the plotly package: pip install 'tunewise[dashboard]'"
        ) from None
    return Path(str(root.joinpath("package_data", "plotly.min.js")))


@functools.cache
def static_bytes(name: str) -> bytes:
    if name == "plotly.min.js":
        return plotly_path().read_bytes()
    return resources.files("tunewise.server").joinpath("static", name).read_bytes()


def script_json(data: Any) -> str:
    """JSON safe inside a ``<script type="application/json">`` element."""
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def study_context(data: StudyData, name: str) -> dict[str, Any]:
    """What ``study.html`` shows (``table``: the first page of trials), for the dashboard and
    the report."""
    summary = data.summary(name)
    done = sum(summary["counts"][s] for s in ("completed", "stopped", "failed"))
    limit = summary["max_trials"] or 0
    return {
        "page": "study",
        "study": summary,
        # a study with several objectives shows its Pareto front and hypervolume first
        "kinds": kinds_for(len(data.snapshot(name).spec.objectives)),
        "importance": data.importance(name),
        "ranges": data.ranges(name),  # proposals for the next study, once this one ended
        "progress_pct": min(100, round(100 * done / limit)) if limit else 0,
        "trial_link": lambda n: f"/studies/{name}/trials/{n}",
        "table": data.trials_page(name, limit=50),
        # the searched space with its conditions (a define-by-run study's as seen so far)
        "space_lines": data.snapshot(name).spec.space.describe(),
        "versions": data.space_versions(name),  # an edited space: its versions
    }


def inline_script(text: str) -> str:
    """Script text that cannot end its ``<script>`` element early (``</script`` and ``<!--``
    only occur inside strings and regular expressions, where the escaped forms are equal)."""
    return _SCRIPT_END.sub(r"<\\/\1", text).replace("<!--", "<\\!--")


def plot_page(title: str, figure: dict[str, Any]) -> str:
    """A self-contained HTML page with one figure (``tunewise plot -o FILE.html``)."""
    return render(
        "plot.html",
        title=title,
        plotly=inline_script(static_bytes("plotly.min.js").decode("utf-8")),
        figure=script_json(figure),
    )
