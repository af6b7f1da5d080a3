"""The official openai Python client against candlelight's API (SmolLM2)."""

import urllib.request

import openai
import pytest
from openai import OpenAI

from conftest import API_KEY, has_fast_kernels

MODEL_ID = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture
def client(server):
    return OpenAI(base_url=f"{server}/v1", api_key=API_KEY)


def test_lists_models(client):
    ids = [m.id for m in client.models.list()]
    assert ids == [MODEL_ID]
    assert client.models.retrieve(MODEL_ID).id == MODEL_ID


def test_chat_completion_with_usage(client):
    reply = client.chat.completions.create(
        model=MODEL_ID,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=40,
        temperature=0,
    )
    choice = reply.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert choice.finish_reason in ("stop", "length")
    usage = reply.usage
    assert usage.prompt_tokens > 10
    assert 0 < usage.completion_tokens <= 40
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_auto_max_new_tokens_fills_the_context_the_prompt_leaves(client):
    def reply(**extra):
        return client.chat.completions.create(
            model=MODEL_ID,
            messages=[{"role": "user", "content": "Count from one to a thousand in words."}],
            max_tokens=8, temperature=0,
            extra_body={"truncation_length": 96, "ban_eos_token": True, **extra},
        )
    capped = reply()
    assert capped.usage.completion_tokens == 8
    auto = reply(auto_max_new_tokens=True)
    # The whole truncation_length is used: prompt + reply = 96.
    assert auto.usage.prompt_tokens + auto.usage.completion_tokens == 96, auto.usage
    assert auto.choices[0].finish_reason == "length"


def test_streamed_chat_completion_has_chunks_and_final_usage(client):
    stream = client.chat.completions.create(
        model=MODEL_ID,
        messages=[{"role": "user", "content": "Tell me about the Moon."}],
        max_tokens=24,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 3, pieces
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["length"] or finish == ["stop"], finish
    last = chunks[-1]
    assert last.choices == []
    assert last.usage.completion_tokens == 24 or finish == ["stop"]
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens


def test_chat_instruct_with_a_character(client, server, post):
    extra = {"mode": "chat-instruct", "character": "AI助理"}
    messages = [{"role": "user", "content": "你好，请介绍一下你自己。"}]
    reply = client.chat.completions.create(
        model=MODEL_ID, messages=messages, max_tokens=30, temperature=0, extra_body=extra,
    )
    assert reply.choices[0].message.content
    # The same request's prompt is the chat-instruct one, with the character.
    prompt = post(f"{server}/v1/internal/chat-prompt", {"messages": messages, **extra})["prompt"]
    assert 'Write a single reply for the character "AI助理"' in prompt
    assert "AI助理: 你好！我是你的AI助理" in prompt
    assert reply.usage.prompt_tokens == post(f"{server}/v1/internal/token-count", {"text": prompt})["length"]


def test_invalid_parameter_is_a_bad_request(client):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model=MODEL_ID, messages=[{"role": "user", "content": "hi"}], top_p=3,
        )
    assert "top_p" in str(err.value)


def test_completion_echo_is_refused_by_name(client):
    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(model=MODEL_ID, prompt="Once upon a time", max_tokens=4, echo=True)
    assert "echo" in str(err.value)


def test_wrong_key_is_refused(server):
    bad = OpenAI(base_url=f"{server}/v1", api_key="wrong-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        bad.models.list()
    assert err.value.status_code == 401


def test_reasoning_content_is_apart_from_the_answer(client):
    """A reply inside <think> (here: continuing an assistant message that
    opened one, with text-generation-webui's continue_) comes back as
    reasoning_content, streamed and not, and content holds only the answer."""
    messages = [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "<think>\nThe user wants the sum of two and two. Let me"},
    ]
    extra = {"continue_": True, "chat_template_kwargs": {"enable_thinking": True}, "reasoning_effort": "low"}
    reply = client.chat.completions.create(
        model=MODEL_ID, messages=messages, max_tokens=12, temperature=0, extra_body=extra,
    )
    message = reply.choices[0].message
    thought = getattr(message, "reasoning_content", None)
    assert isinstance(thought, str) and thought.strip(), message
    assert "<think>" not in (message.content or "") and "</think>" not in thought

    stream = client.chat.completions.create(
        model=MODEL_ID, messages=messages, max_tokens=12, temperature=0, stream=True, extra_body=extra,
    )
    streamed = "".join(
        getattr(c.choices[0].delta, "reasoning_content", None) or ""
        for c in stream if c.choices
    )
    assert streamed.strip() == thought.strip()

    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model=MODEL_ID, messages=messages[:1], max_tokens=4, reasoning_effort="enormous",
        )
    assert "reasoning_effort" in str(e.value)


def metric(server, name):
    req = urllib.request.Request(f"{server}/metrics", headers={"Authorization": f"Bearer {API_KEY}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"{name} is not in /metrics")


def test_n_choices_read_their_prompt_once(client, server):
    if not has_fast_kernels():
        pytest.skip("SKIPPED: this CPU lacks AVX-512 VNNI: candle's one-sequence path copies no prefixes")
    card = "You are Aria, a lighthouse keeper who logs ships, wind and the colour of the sea. " * 8
    copied = "candlelight_prefix_cache_copied_tokens_total"
    counters = (copied, "candlelight_prompt_tokens_total", "candlelight_prompt_tokens_cached_total")
    before = [metric(server, c) for c in counters]
    reply = client.chat.completions.create(
        model=MODEL_ID,
        messages=[{"role": "system", "content": card}, {"role": "user", "content": "Say hello."}],
        n=4, max_tokens=4, temperature=1.0, seed=5,
    )
    assert len(reply.choices) == 4
    prompt = reply.usage.prompt_tokens
    assert prompt > 100
    # One choice read the prompt; the other three copied all of it from
    # its cache (each then runs its last token again for its own logits).
    after = [metric(server, c) for c in counters]
    assert after[0] - before[0] == 3 * prompt
    # Read: the prompt once, and each other choice's last token again.
    assert (after[1] - before[1]) - (after[2] - before[2]) == prompt + 3
    # Usage reports the cache as OpenAI does: the fewest any choice had.
    assert reply.usage.prompt_tokens_details.cached_tokens < prompt
    again = client.chat.completions.create(
        model=MODEL_ID,
        messages=[{"role": "system", "content": card}, {"role": "user", "content": "Say hello."}],
        max_tokens=2, temperature=0,
    )
    assert again.usage.prompt_tokens_details.cached_tokens == prompt - 1
