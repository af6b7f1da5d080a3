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


QWEN = ROOT / "models" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"


def has_fast_kernels():
    """The CPU features candlelight's own kernels need (engine::cpu::quant::vnni::available);
    without them candle's one-sequence models run, which copy no prefixes."""
    try:
        flags = set(open("/proc/cpuinfo").read().split())
    except OSError:
        return False
    return {"avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni"} <= flags


def launch(model: Path | None, *extra: str):
    """Starts the server on `model` (or with `extra` naming a backend);
    yields its base URL, then stops it."""
    assert BINARY.exists(), f"{BINARY} is missing: run `make build`"
    assert model is None or model.exists(), f"{model} is missing: run `scripts/fetch-models.sh all`"
    port = free_port()
    data = tempfile.mkdtemp(prefix="candlelight-api-")
    log = open(Path(data) / "server.log", "w")
    model_args = ["--model", str(model)] if model else []
    proc = subprocess.Popen(
        [str(BINARY), *model_args, "--listen-port", str(port),
         "--api-key", API_KEY, "--user-data-dir", data, *extra],
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


@pytest.fixture(scope="session")
def server():
    """SmolLM2 135M: the small model most tests use."""
    yield from launch(MODEL)


@pytest.fixture(scope="session")
def remote_server(server):
    """A second candlelight whose replies come from the first
    (`--backend openai`), as when one machine serves another."""
    yield from launch(None, "--backend", "openai", "--backend-url", f"{server}/v1", "--backend-key", API_KEY)


@pytest.fixture(scope="session")
def qwen_server():
    """Qwen2.5-Coder 0.5B, the default model: its template takes tools."""
    yield from launch(QWEN)


@pytest.fixture(scope="session")
def remote_qwen_server(request):
    """A candlelight whose replies come from the one serving Qwen: what the
    API's clients ask for must pass through. CANDLELIGHT_REMOTE_URL points
    it at another server instead (scripts/remote-llama-server.sh)."""
    url = os.environ.get("CANDLELIGHT_REMOTE_URL") or f"{request.getfixturevalue('qwen_server')}/v1"
    yield from launch(None, "--backend", "openai", "--backend-url", url, "--backend-key", API_KEY)


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
