#!/usr/bin/env bash
# The API's pass-through to a real llama-server: starts llama-server
# (`--jinja`, the default Qwen model) and runs the pass-through tests
# (end2end/openai/test_remote_pass_through.py: the openai and anthropic
# clients, forced and streamed tool calls and their results, json_schema,
# logprobs, n, usage) through a candlelight started with
# `--backend openai` pointed at it, then prints one forced call and its
# usage as they came back. Too slow to build for CI (llama.cpp takes ~12
# minutes on 2 cores); run it by hand after a change to the remote backend.
#
# usage: scripts/remote-llama-server.sh     (needs `make build` and the .venv `make test` makes)
set -euo pipefail
cd "$(dirname "$0")/.."

LLAMA_SERVER=.tools/llama.cpp-build/bin/llama-server
MODEL=models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
[[ -x $LLAMA_SERVER ]] || scripts/llamacpp-build.sh llama-server
[[ -f $MODEL ]] || scripts/fetch-models.sh qwen >&2
[[ -x target/release/candlelight ]] || { echo "run make build first" >&2; exit 1; }
[[ -x .venv/bin/python ]] || { echo "run make api-test once first (it makes .venv)" >&2; exit 1; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LOG=$(mktemp -t llama-server.XXXXXX.log)
"$LLAMA_SERVER" -m "$MODEL" --jinja --host 127.0.0.1 --port "$PORT" -c 4096 -np 2 -t "$(nproc)" >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 120); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
    kill -0 $SERVER 2>/dev/null || { cat "$LOG" >&2; exit 1; }
    sleep 1
done
echo "llama-server $("$LLAMA_SERVER" --version 2>&1 | grep -m1 version) on port $PORT"

export CANDLELIGHT_REMOTE_URL="http://127.0.0.1:$PORT/v1"
# What llama-server itself does not do (seen with llama-cpp-python 0.3.36's
# copy and Qwen2.5-Coder 0.5B: forced calls come back as content, the
# object form of tool_choice is ignored) fails here as it would directly.
STATUS=0
.venv/bin/python -m pytest -v -p no:cacheprovider end2end/openai/test_remote_pass_through.py || STATUS=$?
.venv/bin/python - <<'EOF'
import os, sys
sys.path.insert(0, "end2end/openai")
from conftest import API_KEY, launch
from openai import OpenAI
from test_tools import ASK, FORCE, WEATHER

server = launch(None, "--backend", "openai", "--backend-url", os.environ["CANDLELIGHT_REMOTE_URL"])
base = next(server)
client = OpenAI(base_url=f"{base}/v1", api_key=API_KEY)
reply = client.chat.completions.create(model="any", messages=ASK, tools=[WEATHER], tool_choice=FORCE,
                                       temperature=0, max_tokens=60)
choice = reply.choices[0]
print("through candlelight --backend openai at llama-server:")
print("  finish_reason:", choice.finish_reason)
for call in choice.message.tool_calls or []:
    print("  tool call:", call.function.name, call.function.arguments)
print("  usage:", reply.usage.model_dump())
next(server, None)
EOF
exit $STATUS
