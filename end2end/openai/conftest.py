"""Starts the release server on the small test model for the openai client tests."""

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / "target" / "release" / "candlelight"
MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
API_KEY = "sk-candlelight-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server():
    assert BINARY.exists(), f"{BINARY} is missing: run `make build`"
    assert MODEL.exists(), f"{MODEL} is missing: run `scripts/fetch-models.sh smollm2`"
    port = free_port()
    data = tempfile.mkdtemp(prefix="candlelight-api-")
    log = open(Path(data) / "server.log", "w")
    proc = subprocess.Popen(
        [str(BINARY), "--model", str(MODEL), "--listen-port", str(port),
         "--api-key", API_KEY, "--user-data-dir", data],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            req = urllib.request.Request(f"{base}/v1/models", headers={"Authorization": f"Bearer {API_KEY}"})
            with urllib.request.urlopen(req, timeout=2) as r:
                if json.load(r)["data"]:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError("server did not start: " + (Path(data) / "server.log").read_text())
        time.sleep(0.2)
    yield base
    proc.terminate()
    proc.wait(timeout=20)


def post_json(url: str, body: dict) -> dict:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


@pytest.fixture(scope="session")
def post():
    return post_json
