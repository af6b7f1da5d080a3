"""The official openai client against a candlelight started with
`--backend openai`, pointing at another candlelight (SmolLM2): the API
works the same, and what only the local engine can do says so."""

import pytest
from openai import OpenAI

from conftest import API_KEY, has_fast_kernels

MODEL_ID = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture
def client(remote_server):
    return OpenAI(base_url=f"{remote_server}/v1", api_key=API_KEY)


def test_models_are_the_remote_servers(client):
    assert [m.id for m in client.models.list()] == [MODEL_ID]
    assert client.models.retrieve(MODEL_ID).id == MODEL_ID


def test_chat_streams_through_the_remote(client):
    stream = client.chat.completions.create(
        model=MODEL_ID, messages=[{"role": "user", "content": "Tell me about the Moon."}],
        max_tokens=16, temperature=0, stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text) > 10, text
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] in (["length"], ["stop"])

    reply = client.chat.completions.create(
        model=MODEL_ID, messages=[{"role": "user", "content": "Tell me about the Moon."}],
        max_tokens=16, temperature=0,
    )
    # The same greedy reply as the streamed one: both came from the remote model.
    assert reply.choices[0].message.content == text
    assert reply.model == MODEL_ID
    # Usage is the remote's count (this server cannot count its tokens).
    assert reply.usage.prompt_tokens > 5, reply.usage
    assert reply.usage.completion_tokens > 0, reply.usage


def test_streamed_usage_is_relayed(client):
    stream = client.chat.completions.create(
        model=MODEL_ID, messages=[{"role": "user", "content": "Hi"}],
        max_tokens=4, temperature=0, stream=True, stream_options={"include_usage": True},
    )
    usage = [c.usage for c in stream if c.usage]
    assert len(usage) == 1 and usage[0].prompt_tokens > 5, usage


def test_the_remote_s_cached_tokens_are_relayed(client):
    if not has_fast_kernels():
        pytest.skip("SKIPPED: this CPU lacks AVX-512 VNNI: candle's one-sequence path caches no prefix")
    ask = dict(model=MODEL_ID, messages=[{"role": "user", "content": "Name a colour of the sea."}],
               max_tokens=3, temperature=0)
    client.chat.completions.create(**ask)
    again = client.chat.completions.create(**ask)
    # The remote read the same prompt again from its cache, and says so.
    assert again.usage.prompt_tokens_details.cached_tokens == again.usage.prompt_tokens - 1


def test_completions_through_the_remote(client):
    reply = client.completions.create(model=MODEL_ID, prompt="The capital of France is", max_tokens=8, temperature=0)
    assert reply.choices[0].text
    assert reply.usage.prompt_tokens > 3, reply.usage


def test_what_needs_the_local_engine_says_so(remote_server, post):
    with pytest.raises(Exception) as err:
        post(f"{remote_server}/v1/internal/token-count", {"text": "hello"})
    assert "400" in str(err.value)
    assert "--backend openai" in err.value.read().decode()
