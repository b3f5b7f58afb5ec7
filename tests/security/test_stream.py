"""The live stream (server-sent events) on a real server: what the study page listens to.
(Its token check is in S3, with every other route.)"""

from __future__ import annotations

import json

import httpx2

from tests.server.helpers import Server


def test_the_event_stream_sends_the_summary(live: Server) -> None:
    base = live.base
    with httpx2.stream("GET", f"{base}/api/studies/demo/events", timeout=10) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        event = next(line for line in lines if line.startswith("event:"))
        data = json.loads(next(lines).removeprefix("data:"))
    assert event == "event: summary" and data["total"] == 6
    assert httpx2.get(f"{base}/api/studies/nope/events").status_code == 404
