"""Ask and tell over HTTP: any language's own tuning loop, the REST twins of ``tunewise ask``
and ``tunewise tell``.

``POST /api/studies/{name}/ask`` starts a trial (leased until a deadline, like the CLI's) and
returns its number and parameters; ``POST /api/studies/{name}/trials/{number}/tell`` finishes
it. These routes write trials, so they answer only when the server was started with
``--allow-control`` *and* ``--token-file`` (every request then carries the token): a server
anyone on the machine could reach never hands out or finishes trials. They start no process.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from tunewise.asktell import AskTellError, TrialNotRunning, UnknownTrial, ask_trial, tell_trial
from tunewise.documents import trial_document
from tunewise.server.api import StudyName, TrialNumber, reject_unknown_query
from tunewise.server.data import StudyData
from tunewise.study import Study

#: The longest lease an HTTP caller may ask for (a week), so a typo cannot hold a trial for years.
MAX_LEASE_SECONDS = 7 * 24 * 3600.0


class AskRequest(BaseModel):
    """``lease_seconds``: tell within this long or the trial is lost (default: the study's
    trial timeout, else an hour)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    lease_seconds: float | None = Field(None, gt=0, le=MAX_LEASE_SECONDS)


class TellRequest(BaseModel):
    """The result: ``value`` (the objective) or ``metrics`` (holding it); none when failed."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    value: float | None = None
    metrics: dict[str, float] | None = Field(None, max_length=1000)
    state: Literal["completed", "stopped", "failed"] = "completed"
    error: str | None = Field(None, max_length=2000)


def build_asktell_router(data: StudyData, *, allow_control: bool, has_token: bool) -> APIRouter:
    """The two routes; each refuses (403) unless the server allows control and has a token."""
    router = APIRouter(prefix="/api", dependencies=[Depends(reject_unknown_query)])

    def check_allowed() -> None:
        if not allow_control:
            raise HTTPException(
                403, "ask and tell over HTTP are off; start `tunewise serve --allow-control`"
            )
        if not has_token:
            raise HTTPException(
                403,
                "ask and tell over HTTP need a token; start `tunewise serve --allow-control "
                "--token-file FILE` and send it as Authorization: Bearer TOKEN",
            )

    @router.post(
        "/studies/{name}/ask",
        summary="Start a trial for your own loop: its number and parameters "
        "(needs --allow-control and --token-file)",
    )
    def ask(name: StudyName, body: AskRequest | None = None) -> dict[str, Any]:
        check_allowed()
        with data.pool.borrow() as store:
            study = Study(store, name, storage=data.pool.url)
            try:
                return ask_trial(study, body.lease_seconds if body else None)
            except AskTellError as exc:
                raise HTTPException(409, str(exc)) from None

    @router.post(
        "/studies/{name}/trials/{number}/tell",
        summary="Finish a trial from ask with its result (needs --allow-control and --token-file)",
    )
    def tell(name: StudyName, number: TrialNumber, body: TellRequest) -> dict[str, Any]:
        check_allowed()
        with data.pool.borrow() as store:
            study = Study(store, name, storage=data.pool.url)
            try:
                trial = tell_trial(study, number, body.value, body.metrics, body.state, body.error)
            except UnknownTrial as exc:
                raise HTTPException(404, str(exc)) from None
            except TrialNotRunning as exc:
                raise HTTPException(409, str(exc)) from None
            except AskTellError as exc:
                raise HTTPException(422, str(exc)) from None
        return trial_document(trial)

    return router
