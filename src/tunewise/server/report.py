"""``tunewise report``: one self-contained HTML file with the dashboard's study page.

The same template, figures and tables as the live page, with plotly.js, the script, the styles
and the figures' data inlined, so the file opens anywhere, offline, and can be mailed or
archived. The trials table holds the best :data:`MAX_ROWS` trials (sortable in the page);
``tunewise export`` writes them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunewise.server.data import StudyData
from tunewise.server.render import (
    inline_script,
    render,
    script_json,
    static_bytes,
    study_context,
)

MAX_ROWS = 1000


@dataclass(frozen=True)
class Inline:
    """What the base template inlines instead of linking."""

    css: str
    js: str
    plotly: str
    figures: str


def render_report(storage: str, name: str) -> str:
    """The report of study ``name`` in the store at ``storage``.

    Raises:
        StudyNotFound: no such study.
        FileNotFoundError: plotly.js is missing (the ``dashboard`` extra is not installed).
    """
    data = StudyData(storage, pool_size=1)
    try:
        context = study_context(data, name)
        maximize = context["study"]["objective"]["direction"] == "maximize"
        context["table"] = data.trials_page(name, sort="value", descending=maximize, limit=MAX_ROWS)
        figures = {kind: data.figure(name, kind) for kind in context["kinds"]}
    finally:
        data.close()
    context["trial_link"] = lambda n: f"#trial-{n}"
    context["inline"] = Inline(
        css=static_bytes("style.css").decode("utf-8").replace("</", "<\\/"),
        js=inline_script(static_bytes("dashboard.js").decode("utf-8")),
        plotly=inline_script(static_bytes("plotly.min.js").decode("utf-8")),
        figures=script_json(figures),
    )
    return render("study.html", **context)
