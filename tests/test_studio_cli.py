"""``choreo studio`` as a command: it serves the page on 127.0.0.1, refuses bad options with one line, and Ctrl-C
(SIGINT to its process group, as a terminal sends it) stops it while ffmpeg renders, leaving no stray process
and no files."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from choreo.cli import main
from choreo.motion.formats import write_motion
from edge_standin import smooth_smpl
from studio_standin import page_token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def group_members(pgid: int) -> list[int]:
    """Live processes in a process group (Linux /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(d.name))
    return out


def request(url: str, data: bytes | None = None, json_body: dict | None = None) -> dict:
    """GET, or POST as the studio's page does (its origin and the token it holds)."""
    headers = {}
    if json_body is not None:
        data, headers = json.dumps(json_body).encode(), {"Content-Type": "application/json"}
    if data is not None:
        origin = "/".join(url.split("/")[:3])
        with urllib.request.urlopen(origin + "/", timeout=30) as r:
            headers.update({"Origin": origin, "X-Choreo-Token": page_token(r.read().decode())})
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_hosts_allowed_for_an_address():
    from choreo.studio.serve import allowed_hosts

    assert allowed_hosts("0.0.0.0") == ["*"]
    assert set(allowed_hosts("127.0.0.1")) == {"127.0.0.1", "localhost", "::1"}
    assert "192.168.1.5" in allowed_hosts("192.168.1.5") and "::1" in allowed_hosts("[::1]")


def test_bad_options(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["studio", "--port", str(port)]) == 2
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err
    assert main(["studio", "--max-upload-mb", "0"]) == 2
    assert "--max-upload-mb must be positive" in capsys.readouterr().err
    assert main(["studio", "--port", "70000"]) == 2


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process groups from /proc")
def test_ctrl_c_mid_job_leaves_nothing_behind(tmp_path):
    port = free_port()
    env = {**os.environ, "TMPDIR": str(tmp_path), "CHOREO_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "choreo", "studio", "--port", str(port), "--threads", "1"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        line = proc.stderr.readline()
        assert f"http://127.0.0.1:{port}/" in line, line
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                request(f"{url}/api/state")
                break
            except OSError:
                time.sleep(0.1)
        assert [p.name for p in tmp_path.glob("choreo-studio-*")], "the studio keeps its files in TMPDIR"
        refused = urllib.request.Request(f"{url}/api/takes/x/video", data=b"{}", method="POST")  # as curl would
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(refused, timeout=30)
        assert err.value.code == 403
        write_motion(smooth_smpl(240), tmp_path / "moves.npz")
        take = request(f"{url}/api/upload?name=moves.npz", data=(tmp_path / "moves.npz").read_bytes())["take"]
        request(f"{url}/api/takes/{take['id']}/video", json_body={})  # renders an 8 s MP4 with ffmpeg
        end = time.monotonic() + 15
        while len(group_members(proc.pid)) < 2 and time.monotonic() < end:
            time.sleep(0.05)
        assert len(group_members(proc.pid)) >= 2, "ffmpeg should be rendering under the studio"
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        end = time.monotonic() + 10
        while group_members(proc.pid) and time.monotonic() < end:
            time.sleep(0.1)
        assert group_members(proc.pid) == []
        assert list(tmp_path.glob("choreo-studio-*")) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
