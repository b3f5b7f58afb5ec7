"""Ask and tell over REST: off unless --allow-control and a token; a Node.js loop (global
fetch) tunes a function through a real ``tunewise serve``."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import tunewise as tw
from tests.server.conftest import client_for
from tests.server.helpers import running_server
from tunewise.store import open_store
from tunewise.trial import TrialState

NODE = shutil.which("node") or "/usr/bin/node"
TOKEN = "t0ken-for-the-asktell-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def make(url: str, name: str = "quad", values: list[float] | None = None) -> None:
    """A study with no trial to run (created from Python), searched over a grid of x."""
    tw.create_study(
        name,
        objective=tw.Objective("loss", "minimize"),
        space={"x": tw.Categorical(values or [-1.0, 0.0, 1.0, 2.0])},
        strategy="grid",
        storage=url,
    )


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    make(url)
    return url


def test_off_without_control_or_without_a_token(url: str) -> None:
    with client_for(url) as client:
        response = client.post("/api/studies/quad/ask")
        assert response.status_code == 403 and "--allow-control" in response.json()["detail"]
    with client_for(url, allow_control=True) as client:
        response = client.post("/api/studies/quad/ask")
        assert response.status_code == 403 and "--token-file" in response.json()["detail"]
        response = client.post("/api/studies/quad/trials/0/tell", json={"value": 1})
        assert response.status_code == 403
    with client_for(url, allow_control=True, token=TOKEN) as client:
        assert client.post("/api/studies/quad/ask").status_code == 401  # no token sent
    store = open_store(url, create=False)
    try:
        assert store.get_trials(store.get_study("quad").id) == []  # nothing was asked
    finally:
        store.close()


def test_ask_tell_and_the_errors(url: str) -> None:
    with client_for(url, allow_control=True, token=TOKEN) as client:
        asked = client.post("/api/studies/quad/ask", json={"lease_seconds": 60}, headers=AUTH)
        assert asked.status_code == 200, asked.text
        body = asked.json()
        assert body["trial"] == 0 and body["lease_seconds"] == 60 and "x" in body["params"]
        tell = "/api/studies/quad/trials/{}/tell"
        for number, payload, status, words in [
            (9, {"value": 1}, 404, "has no trial 9"),
            (0, {"value": "abc"}, 422, None),
            (0, {}, 422, "needs its value"),
            (0, {"metrics": {"acc": 1}}, 422, "do not hold the objective"),
            (0, {"value": 1, "state": "failed"}, 422, "a failed trial has no result"),
            (0, {"value": 1, "extra": 2}, 422, None),
        ]:
            response = client.post(tell.format(number), json=payload, headers=AUTH)
            assert response.status_code == status, (payload, response.text)
            if words:
                assert words in response.json()["detail"]
        done = client.post(tell.format(0), json={"value": 0.5}, headers=AUTH)
        assert done.status_code == 200 and done.json()["state"] == "completed"
        assert done.json()["value"] == 0.5
        again = client.post(tell.format(0), json={"value": 0.5}, headers=AUTH)
        assert again.status_code == 409 and "already finished" in again.json()["detail"]
        assert client.post("/api/studies/nope/ask", headers=AUTH).status_code == 404
        bad = client.post("/api/studies/quad/ask", json={"lease_seconds": -1}, headers=AUTH)
        assert bad.status_code == 422
        failed_number = client.post("/api/studies/quad/ask", headers=AUTH).json()["trial"]
        failed = client.post(
            tell.format(failed_number), json={"state": "failed", "error": "OOM"}, headers=AUTH
        )
        assert failed.status_code == 200 and failed.json()["error"] == "OOM"


NODE_LOOP = """\
const [base, token, name] = process.argv.slice(2);
const headers = { "Authorization": `Bearer ${token}`, "Content-Type": "application/json" };
let told = 0;
for (;;) {
  const asked = await fetch(`${base}/api/studies/${name}/ask`, {
    method: "POST", headers, body: JSON.stringify({ lease_seconds: 600 }) });
  if (asked.status === 409) break;  // the grid has no configuration left
  if (!asked.ok) throw new Error(`ask: ${asked.status} ${await asked.text()}`);
  const { trial, params } = await asked.json();
  const loss = (params.x - 1.5) ** 2;
  const told_ = await fetch(`${base}/api/studies/${name}/trials/${trial}/tell`, {
    method: "POST", headers, body: JSON.stringify({ value: loss }) });
  if (!told_.ok) throw new Error(`tell: ${told_.status} ${await told_.text()}`);
  told += 1;
}
console.log(`told ${told}`);
"""


def test_a_node_loop_over_rest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'node.db'}"
    values = [-1.0, 0.0, 0.5, 1.0, 1.5, 2.0]
    make(url, "noderest", values)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    script = tmp_path / "loop.mjs"
    script.write_text(NODE_LOOP)
    with running_server(url, "--allow-control", "--token-file", str(token_file)) as server:
        out = subprocess.run(
            [NODE, str(script), server.base, TOKEN, "noderest"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert out.returncode == 0, out.stderr
    assert f"told {len(values)}" in out.stdout
    study = tw.load_study("noderest", storage=url)
    trials = study.trials
    assert len(trials) == len(values)
    assert all(t.state == TrialState.COMPLETED for t in trials)
    assert study.best_value == 0 and study.best_params == {"x": 1.5}
    assert json.dumps(sorted(t.params["x"] for t in trials)) == json.dumps(values)
