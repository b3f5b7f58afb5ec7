"""The REST API under ``/api`` (OpenAPI document at ``/api/openapi.json``).

Every input is validated where it enters: study names by the spec's name pattern, numbers by
range, sort keys and states by their lists, and a query parameter the route does not declare is
refused with 422 (so nothing unexpected, a command line least of all, is silently ignored).
No route accepts a command or starts a process; the two control routes only change a study's
stored state, and only when the server was started with ``--allow-control``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from tunewise.analysis import KINDS
from tunewise.analysis import sagemaker as sm
from tunewise.documents import trial_document
from tunewise.errors import StoreError, StudyNotFound
from tunewise.server.control import change_state
from tunewise.server.data import StudyData
from tunewise.server.files import (
    LOG_STREAMS,
    UnsafePath,
    attempt_logs,
    list_files,
    read_tail,
)
from tunewise.trial import TrialState

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"
STREAM_SECONDS = 300.0  # a live stream ends after this; EventSource reconnects by itself
STREAM_POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0

StudyName = Annotated[str, Path(pattern=NAME_PATTERN, max_length=128, description="study name")]
TrialNumber = Annotated[int, Path(ge=0, le=2**31 - 1, description="trial number")]

States = StrEnum("States", {s.name: s.value for s in TrialState})  # type: ignore[misc]
Kinds = StrEnum("Kinds", {k: k for k in KINDS})  # type: ignore[misc]
Streams = StrEnum("Streams", {s: s for s in LOG_STREAMS})  # type: ignore[misc]


class Order(StrEnum):
    ASC = "asc"
    DESC = "desc"


class SortBy(StrEnum):
    NAME = "Name"
    CREATION_TIME = "CreationTime"
    STATUS = "Status"
    FINAL_OBJECTIVE_METRIC_VALUE = "FinalObjectiveMetricValue"


class SortOrder(StrEnum):
    ASCENDING = "Ascending"
    DESCENDING = "Descending"


class StatusEquals(StrEnum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


class ControlRequest(BaseModel):
    """The only body the API accepts: an optional note kept as the study's reason."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    note: str | None = Field(None, max_length=200, pattern=r"^[^\x00-\x1f]*$")


def reject_unknown_query(request: Request) -> None:
    """422 for query parameters the route does not declare (FastAPI would ignore them)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = {p.alias for p in dependant.query_params}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise HTTPException(422, f"unknown query parameter {unknown[0][:64]!r}")


def build_router(data: StudyData, *, allow_control: bool) -> APIRouter:
    router = APIRouter(prefix="/api", dependencies=[Depends(reject_unknown_query)])

    @router.get("/studies", summary="Every study: state, strategy, trials by state, best value")
    def studies() -> dict[str, Any]:
        return {"studies": data.summaries()}

    @router.get("/studies/{name}", summary="One study: summary and search definition")
    def study(name: StudyName) -> dict[str, Any]:
        snap = data.snapshot(name)
        out = data.summary(name)
        spec = snap.spec
        out["space"] = spec.space.to_dict()
        out["limits"] = spec.limits.to_dict()
        out["seed"] = spec.seed
        return out

    @router.get("/studies/{name}/trials", summary="Trials: filter, sort and page")
    def trials(
        name: StudyName,
        state: Annotated[list[States] | None, Query(max_length=5)] = None,
        min_value: Annotated[float | None, Query(allow_inf_nan=False)] = None,
        max_value: Annotated[float | None, Query(allow_inf_nan=False)] = None,
        sort: Annotated[str, Query(max_length=200, pattern=r"^[A-Za-z0-9_:.\-]+$")] = "number",
        order: Order = Order.ASC,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        try:
            return data.trials_page(
                name,
                states=[TrialState(s.value) for s in state or []],
                min_value=min_value,
                max_value=max_value,
                sort=sort,
                descending=order is Order.DESC,
                offset=offset,
                limit=limit,
            )
        except StudyNotFound:
            raise  # a KeyError too, but 404 like every route (the application's handler)
        except KeyError:
            raise HTTPException(422, f"cannot sort by {sort!r}: no such column") from None

    @router.get("/studies/{name}/best", summary="The best completed trial")
    def best(name: StudyName) -> dict[str, Any]:
        frame = data.snapshot(name).frame
        row = frame.best_index()
        if row is None:
            raise HTTPException(404, f"study {name!r} has no completed trial yet")
        return trial_document(frame.trials[row])

    @router.get("/studies/{name}/importance", summary="Hyperparameter importance (PED-ANOVA)")
    def importance(name: StudyName) -> dict[str, Any]:
        return data.importance(name)

    @router.get("/studies/{name}/figures/{kind}", summary="A plotly figure of the study")
    def figure(name: StudyName, kind: Kinds) -> dict[str, Any]:
        return data.figure(name, kind.value)

    @router.get("/studies/{name}/trials/{number}", summary="One trial with reports, attempts")
    def trial(name: StudyName, number: TrialNumber) -> dict[str, Any]:
        _study_exists(data, name)
        try:
            detail = data.trial(name, number)
        except StoreError:
            raise HTTPException(404, f"study {name!r} has no trial {number}") from None
        folder = data.trial_dir(name, number)
        detail["files"] = list_files(folder)
        present = {f["name"] for f in detail["files"]}
        detail["logs"] = [  # each attempt's logs, latest first (read them by the files route)
            {"attempt": log.attempt, "stream": log.stream, "name": log.name}
            for log in attempt_logs(folder, int(detail["attempt"] or 1))
            if log.name in present
        ]
        return detail

    @router.get("/studies/{name}/trials/{number}/why", summary="Why the strategy suggested it")
    def why(name: StudyName, number: TrialNumber) -> dict[str, Any]:
        _study_exists(data, name)
        try:
            return data.why(name, number)
        except KeyError:
            raise HTTPException(404, f"study {name!r} has no trial {number}") from None

    @router.get("/studies/{name}/trials/{number}/logs/{stream}", summary="Tail of a trial log")
    def log(name: StudyName, number: TrialNumber, stream: Streams) -> dict[str, Any]:
        return _tail(data, name, number, f"{stream.value}.log")

    @router.get("/studies/{name}/trials/{number}/files/{path:path}", summary="A trial's file")
    def trial_file(name: StudyName, number: TrialNumber, path: str) -> dict[str, Any]:
        return _tail(data, name, number, path)

    @router.get("/studies/{name}/sagemaker/describe", summary="DescribeHyperParameterTuningJob")
    def describe(name: StudyName) -> dict[str, Any]:
        from tunewise.errors import SpecError
        from tunewise.integrations.sagemaker_api import describe_study

        snap, record, counts = data.snapshot_and_live(name)
        try:
            return describe_study(record, counts, snap.frame)
        except SpecError as exc:  # a conditional space: AMT has no conditions
            raise HTTPException(status_code=409, detail=str(exc)) from None

    @router.get(
        "/studies/{name}/sagemaker/training-jobs",
        summary="ListTrainingJobsForHyperParameterTuningJob",
    )
    def training_jobs(
        name: StudyName,
        SortBy: SortBy = SortBy.NAME,
        SortOrder: SortOrder = SortOrder.ASCENDING,
        StatusEquals: StatusEquals | None = None,
        MaxResults: Annotated[int, Query(ge=1, le=100)] = 10,
        NextToken: Annotated[str | None, Query(pattern=r"^[0-9]{1,9}$")] = None,
    ) -> dict[str, Any]:
        snap = data.snapshot(name)
        return sm.training_jobs(
            snap.record,
            snap.frame,
            sort_by=SortBy.value,
            sort_order=SortOrder.value,
            status_equals=None if StatusEquals is None else StatusEquals.value,
            max_results=MaxResults,
            next_token=int(NextToken or 0),
        )

    @router.get(
        "/studies/{name}/events",
        summary="Live updates (server-sent events): the study's summary whenever it changes",
        response_class=StreamingResponse,
    )
    async def events(name: StudyName) -> StreamingResponse:
        await run_in_threadpool(_study_exists, data, name)
        return StreamingResponse(
            _event_stream(data, name),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    for action in ("stop", "resume"):
        router.add_api_route(
            f"/studies/{{name}}/{action}",
            _control_route(data, action, allow_control),
            methods=["POST"],
            summary=f"{action.capitalize()} a study defined from a spec file "
            "(needs --allow-control; starts no process)",
        )
    return router


def _study_exists(data: StudyData, name: str) -> None:
    data.live(name)  # StudyNotFound -> 404 by the application's handler


def _tail(data: StudyData, name: str, number: int, path: str) -> dict[str, Any]:
    _study_exists(data, name)
    try:
        tail = read_tail(data.trial_dir(name, number), path)
    except UnsafePath as exc:
        raise HTTPException(422, f"unsafe file name: {exc}") from None
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        raise HTTPException(404, f"trial {number} has no file {path[:100]!r}") from None
    return {"name": tail.name, "text": tail.text, "size": tail.size, "truncated": tail.truncated}


def _control_route(data: StudyData, action: str, allow_control: bool) -> Any:
    def control(name: StudyName, body: ControlRequest | None = None) -> dict[str, Any]:
        if not allow_control:
            raise HTTPException(
                403, "control over HTTP is off; start `tunewise serve --allow-control`"
            )
        with data.pool.borrow() as store:
            return change_state(store, name, action, body.note if body else None)

    control.__name__ = f"{action}_study"
    return control


async def _event_stream(data: StudyData, name: str) -> AsyncIterator[str]:
    """``summary`` events when the study changes, a comment now and then to keep it open."""
    yield "retry: 2000\n\n"
    last, last_sent = "", time.monotonic()
    deadline = time.monotonic() + STREAM_SECONDS
    while time.monotonic() < deadline:
        try:
            summary = await run_in_threadpool(data.summary, name)
        except KeyError:  # the study was deleted
            yield "event: gone\ndata: {}\n\n"
            return
        text = json.dumps(summary, allow_nan=False)
        if text != last:
            yield f"event: summary\ndata: {text}\n\n"
            last, last_sent = text, time.monotonic()
        elif time.monotonic() - last_sent > KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        await asyncio.sleep(STREAM_POLL_SECONDS)
