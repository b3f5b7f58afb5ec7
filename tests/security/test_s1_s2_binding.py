"""S1: loopback by default. S2: any other address needs a token file (made 0600 on request),
and the server warns when it serves the network."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx2
import psutil
import pytest

from tests.server.helpers import Server, free_port, make_study, run_cli, running_server
from tunewise.cli.main import build_parser
from tunewise.server.security import is_loopback, read_token_file


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("bind")
    url = f"sqlite:///{root / 'bind.db'}"
    make_study(url, root / "runs", n=3)
    return url


def listening_addresses(pid: int) -> set[str]:
    return {
        c.laddr.ip
        for c in psutil.Process(pid).net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN
    }


def test_s1_the_default_is_loopback(live: Server) -> None:
    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"
    assert "--host" not in live.proc.args  # started with the defaults
    assert listening_addresses(live.proc.pid) == {"127.0.0.1"}
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1") and not is_loopback("::")


def test_s2_a_network_address_without_a_token_is_refused(url: str) -> None:
    result = run_cli(["serve", "--storage", url, "--host", "0.0.0.0", "--port", str(free_port())])
    assert result.returncode == 2
    assert "--token-file" in result.stderr and "Traceback" not in result.stderr


def test_s2_the_token_file_is_made_0600_and_the_server_warns(url: str, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    with running_server(url, "--host", "0.0.0.0", "--token-file", str(token_file)) as server:
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        assert len(token) >= 32
        assert listening_addresses(server.proc.pid) == {"0.0.0.0"}
        studies = f"{server.base}/api/studies"
        assert httpx2.get(studies).status_code == 401
        ok = httpx2.get(studies, headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
    output = server.output
    assert "wrote a new token" in output and "warning: serving to the network" in output
    assert token not in output, "the token is never printed"


def test_s2_a_token_file_others_can_read_is_refused(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.write_text("x" * 40)
    os.chmod(loose, 0o644)
    with pytest.raises(Exception, match="chmod 600"):
        read_token_file(loose)
    short = tmp_path / "short"
    short.write_text("abc")
    os.chmod(short, 0o600)
    with pytest.raises(Exception, match="at least 16"):
        read_token_file(short)
