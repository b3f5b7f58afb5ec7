"""Each attempt of a retried trial keeps its logs (issue 21 #18), and the trial's page and the
API list them, latest attempt first: a real `tunewise run` whose first attempt crashes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.server.conftest import client_for
from tests.server.helpers import run_cli, spec_dict, trial_folder
from tunewise.server.files import attempt_logs

#: Attempt 1 prints, then dies from SIGKILL (crashed: retried); attempt 2 reports and ends.
TRAIN = """\
import json, os, signal, sys
marker = os.path.join(sys.argv[1], "crashed-once")
if not os.path.exists(marker):
    open(marker, "w").close()
    print("attempt one was here", flush=True)
    print("attempt one's error", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
print("attempt two was here", flush=True)
print("@tunewise " + json.dumps({"step": 0, "loss": 0.5}), flush=True)
"""


def test_each_attempts_logs_are_listed_latest_first(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    url = f"sqlite:///{tmp_path / 'retry.db'}"
    data = spec_dict("retry", tmp_path / "runs", max_trials=1)
    data["trial"] = {"command": [sys.executable, str(script), str(tmp_path)], "timeout": "60s"}
    data["retries"] = {"max_attempts": 2, "on": ["crashed"]}
    data["storage"] = url
    spec = tmp_path / "retry.json"
    spec.write_text(json.dumps(data))
    result = run_cli(["run", str(spec)], cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr

    folder = trial_folder(url, "retry", 0)
    assert [(log.attempt, log.name) for log in attempt_logs(folder, 2)] == [
        (2, "stdout.log"), (2, "stderr.log"), (1, "stdout.1.log"), (1, "stderr.1.log"),
    ]  # fmt: skip
    with client_for(url) as client:
        detail = client.get("/api/studies/retry/trials/0").json()
        assert detail["attempt"] == 2 and [a["failure_kind"] for a in detail["attempts"]] == [
            "crashed"
        ]
        assert [(log["attempt"], log["name"]) for log in detail["logs"]] == [
            (2, "stdout.log"), (2, "stderr.log"), (1, "stdout.1.log"), (1, "stderr.1.log"),
        ]  # fmt: skip
        earlier = client.get("/api/studies/retry/trials/0/files/stdout.1.log").json()
        assert "attempt one was here" in earlier["text"]
        page = client.get("/studies/retry/trials/0").text
    latest, first = (
        page.index("attempt 2 (latest): stdout.log"),
        page.index("attempt 1: stdout.1.log"),
    )
    assert latest < first
    assert page.index("attempt two was here") < page.index("attempt one was here")
    assert "attempt one&#39;s error" in page
