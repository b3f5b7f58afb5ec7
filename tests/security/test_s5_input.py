"""S5: unknown fields and command-like input are refused (422); a bounded schemathesis run over
the OpenAPI document, against a real server on loopback, finds no 5xx and starts no process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from fastapi.testclient import TestClient

from tests.server.helpers import make_study, running_server

MAX_CASES = 1000  # grows with the routes (ask and tell added ~100); bounds the run time
COMMANDS = ("; touch {marker}", "$(touch {marker})", "`touch {marker}`", "| touch {marker}",
            "&& touch {marker}", "../../bin/sh -c 'touch {marker}'")  # fmt: skip


def test_unknown_query_parameters_and_fields_are_refused(client: TestClient) -> None:
    for path in ("/api/studies?verbose=1", "/api/studies/demo/trials?cmd=ls",
                 "/api/studies/demo/figures/history?argv=sh"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 422 and "unknown query parameter" in response.text, path


def test_command_like_input_is_refused_and_never_run(client: TestClient, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for template in COMMANDS:
        text = template.format(marker=marker)
        responses = [
            client.get("/api/studies/demo/trials", params={"sort": text}),
            client.get("/api/studies/demo/trials", params={"state": text}),
            client.get("/api/studies/demo/sagemaker/training-jobs", params={"SortBy": text}),
            client.get("/api/studies/demo/trials", params={"min_value": text}),
            client.get(f"/api/studies/{text}"),
            client.get(f"/api/studies/demo/figures/{text}"),
            client.get(f"/api/studies/demo/trials/3/logs/{text}"),
        ]
        for response in responses:
            assert response.status_code in (404, 422), (text, response.request.url)
    assert not marker.exists()


def test_schemathesis_finds_no_server_error_and_no_process_starts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    make_study(url, tmp_path / "runs", n=12, running=1)
    config = tmp_path / "schemathesis.toml"
    config.write_text('[parameters]\n"path.name" = "demo"\n')  # exercise a real study
    st = Path(sys.executable).with_name("st")
    if not st.exists():
        pytest.fail("schemathesis is not installed: pip install -e '.[dev]'")
    with running_server(url, "--allow-control") as server:
        result = subprocess.run(
            [str(st), "--config-file", str(config), "run", f"{server.base}/api/openapi.json",
             "--max-examples", "5", "--checks", "not_a_server_error", "--phases",
             "coverage,fuzzing", "--seed", "7", "--exclude-path-regex", "events$",
             "--request-timeout", "10", "--no-color"],
            capture_output=True, text=True, timeout=240, cwd=tmp_path,
        )  # fmt: skip
        children = psutil.Process(server.proc.pid).children(recursive=True)
        assert children == [], f"the server started processes: {children}"
    summary = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert summary is not None and result.returncode == 0, result.stdout[-3000:]
    generated, passed = int(summary[1]), int(summary[2])
    assert 100 <= generated <= MAX_CASES and passed == generated, result.stdout[-2000:]
