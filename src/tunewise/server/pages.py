"""The dashboard's pages, rendered on the server (Jinja2, autoescaped) and kept live by a small
script: the studies list polls ``/api/studies``; a study page follows the study's event stream
and reloads its figures and table when the trial counts change; a running trial's page polls.

Static files are three named files, not a folder mount: ``style.css``, ``dashboard.js`` and
``plotly.min.js`` (see :mod:`tunewise.server.render`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response

from tunewise.errors import StoreError
from tunewise.server.api import StudyName, TrialNumber
from tunewise.server.data import StudyData
from tunewise.server.files import attempt_logs, list_files, read_tail
from tunewise.server.render import (
    CSP,
    STATIC_TYPES,
    render,
    script_json,
    static_bytes,
    study_context,
)

MAX_LOGS_SHOWN = 20  # log tails on a trial's page (the latest attempt's, then earlier ones)
PAGE_HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store"}
ERROR_TITLES = {404: "Not found", 405: "Method not allowed", 503: "The store did not answer"}


def _html(text: str) -> HTMLResponse:
    return HTMLResponse(text, headers=PAGE_HEADERS)


def error_page(status: int, detail: str) -> tuple[str, dict[str, str]]:
    """An error as a dashboard page (``detail`` escaped) and the headers it is sent with."""
    title = ERROR_TITLES.get(status, f"Error {status}")
    text = render("error.html", page="error", status=status, title=title, detail=detail[:300])
    return text, dict(PAGE_HEADERS)


def build_pages(app: FastAPI, data: StudyData) -> None:
    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in STATIC_TYPES:
            raise HTTPException(404, "no such file")
        try:
            body = static_bytes(name)
        except FileNotFoundError as exc:
            raise HTTPException(404, str(exc)) from None
        return Response(
            body, media_type=STATIC_TYPES[name], headers={"Cache-Control": "max-age=3600"}
        )

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/", include_in_schema=False)
    def studies_page() -> HTMLResponse:
        return _html(render("studies.html", page="studies", studies=data.summaries()))

    @app.get("/studies/{name}", include_in_schema=False)
    def study_page(name: StudyName) -> HTMLResponse:
        return _html(render("study.html", **study_context(data, name)))

    @app.get("/studies/{name}/trials/{number}", include_in_schema=False)
    def trial_page(name: StudyName, number: TrialNumber) -> HTMLResponse:
        summary = data.summary(name)
        try:
            trial = data.trial(name, number)
        except StoreError:
            raise HTTPException(404, f"study {name!r} has no trial {number}") from None
        folder = data.trial_dir(name, number)
        logs: list[dict[str, Any]] = []  # each attempt's logs, the latest attempt first
        for log in attempt_logs(folder, int(trial["attempt"] or 1))[:MAX_LOGS_SHOWN]:
            try:
                tail = read_tail(folder, log.name, 64 * 1024)
            except (OSError, ValueError):
                tail = None
            if tail is not None or log.latest:
                logs.append({"log": log, "tail": tail})
        text = render(
            "trial.html",
            page="trial",
            study=summary,
            number=number,
            trial=trial,
            logs=logs,
            files=list_files(folder),
            trial_dir=str(folder),
            why=data.why(name, number),  # the "Why this trial" block (tunewise why)
            reports_json=script_json(
                {"metric": summary["objective"]["metric"], "reports": trial["reports"]}
            ),
        )
        return _html(text)
