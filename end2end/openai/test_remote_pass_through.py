"""Everything an API client asks for passes through `--backend openai`:
a candlelight whose replies come from a second one serving the default
model (Qwen2.5-Coder 0.5B). Tools, forced calls and their results,
structured output, log-probabilities, `n` and usage reach the remote
server and come back, in all three dialects; what the remote server
refuses comes back as its own message."""

import json

import anthropic
import openai
import pytest
from openai import OpenAI

from conftest import API_KEY
from test_tools import ASK, FORCE, TIME, WEATHER, check_weather_call

MODEL_ID = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"


@pytest.fixture
def client(remote_qwen_server):
    return OpenAI(base_url=f"{remote_qwen_server}/v1", api_key=API_KEY, max_retries=0)


def test_a_forced_call_arrives_whole_and_its_result_is_answered(client):
    reply = client.chat.completions.create(
        model=MODEL_ID, messages=ASK, tools=[WEATHER, TIME], tool_choice=FORCE, parallel_tool_calls=False,
        temperature=0, max_tokens=60,
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    assert len(choice.message.tool_calls) == 1, choice.message
    call = choice.message.tool_calls[0]
    check_weather_call(call.function.name, call.function.arguments)
    # Usage is the remote server's count.
    assert reply.usage.prompt_tokens > 50 and reply.usage.completion_tokens > 3, reply.usage
    followup = client.chat.completions.create(
        model=MODEL_ID, tools=[WEATHER], temperature=0, max_tokens=40,
        messages=ASK + [choice.message.model_dump(exclude_none=True),
                        {"role": "tool", "tool_call_id": call.id,
                         "content": json.dumps({"temperature_c": 18, "sky": "sunny"})}],
    )
    answer = followup.choices[0].message.content
    assert answer and not followup.choices[0].message.tool_calls, followup
    assert "18" in answer, answer


def test_a_streamed_forced_call_arrives_whole(client):
    stream = client.chat.completions.create(
        model=MODEL_ID, messages=ASK, tools=[WEATHER], tool_choice="required", temperature=0, max_tokens=60,
        stream=True, stream_options={"include_usage": True},
    )
    chunks = list(stream)
    name, arguments = "", ""
    for c in chunks:
        for d in (c.choices[0].delta.tool_calls or []) if c.choices else []:
            name += d.function.name or ""
            arguments += d.function.arguments or ""
    check_weather_call(name, arguments)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    assert [c.usage.prompt_tokens > 50 for c in chunks if c.usage] == [True]


def test_structured_output_logprobs_and_n_pass_through(client):
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
              "required": ["city", "country"], "additionalProperties": False}
    reply = client.chat.completions.create(
        model=MODEL_ID, messages=[{"role": "user", "content": "Give me a famous city."}], temperature=0,
        max_tokens=48, response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
    )
    assert set(json.loads(reply.choices[0].message.content)) == {"city", "country"}
    reply = client.chat.completions.create(
        model=MODEL_ID, messages=[{"role": "user", "content": "Name a fruit."}],
        logprobs=True, top_logprobs=2, max_tokens=8, temperature=0,
    )
    content = reply.choices[0].logprobs.content
    # Every token of the text has its entry; llama-server also counts the
    # end-of-sequence token it gives none for.
    assert reply.usage.completion_tokens - 1 <= len(content) <= reply.usage.completion_tokens
    assert all(e.logprob <= 0 and len(e.top_logprobs) == 2 for e in content)
    assert "".join(e.token for e in content) == reply.choices[0].message.content
    reply = client.chat.completions.create(
        model=MODEL_ID, messages=[{"role": "user", "content": "Write a word."}], n=2, max_tokens=6,
        temperature=1.0, seed=7,
    )
    assert [c.index for c in reply.choices] == [0, 1] and all(c.message.content for c in reply.choices)


def test_what_the_remote_refuses_comes_back_as_its_message(client):
    # A schema this server accepts as an object but the remote's grammar
    # compiler refuses.
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model=MODEL_ID, messages=[{"role": "user", "content": "Hi"}], max_tokens=8,
            response_format={"type": "json_schema",
                             "json_schema": {"name": "x", "schema": {"type": "object", "properties": {"a": {"type": "nonsense"}}}}},
        )
    assert "remote server refused" in str(e.value), e.value


def test_anthropic_and_responses_clients_through_the_remote(remote_qwen_server):
    claude = anthropic.Anthropic(base_url=remote_qwen_server, api_key=API_KEY, max_retries=0)
    tool = {"name": "get_weather", "description": "The current weather in a city.",
            "input_schema": WEATHER["function"]["parameters"]}
    reply = claude.messages.create(model=MODEL_ID, max_tokens=64, messages=ASK, tools=[tool],
                                   tool_choice={"type": "tool", "name": "get_weather"},
                                   extra_body={"temperature": 0})
    assert reply.stop_reason == "tool_use"
    use = [b for b in reply.content if b.type == "tool_use"]
    assert len(use) == 1 and use[0].name == "get_weather" and isinstance(use[0].input["city"], str)
    assert reply.usage.input_tokens > 50
    client = OpenAI(base_url=f"{remote_qwen_server}/v1", api_key=API_KEY, max_retries=0)
    r = client.responses.create(model=MODEL_ID, input=ASK, tools=[{"type": "function", **WEATHER["function"]}],
                                tool_choice={"type": "function", "name": "get_weather"},
                                temperature=0, max_output_tokens=64)
    calls = [item for item in r.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert isinstance(json.loads(calls[0].arguments)["city"], str)
    assert r.usage.input_tokens > 50
