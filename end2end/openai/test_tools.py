"""Tool calls and structured output through the official openai client, on
the default model (Qwen2.5-Coder 0.5B, whose template takes tools).
Forced calls and JSON formats are enforced by constrained decoding, so
even this small model answers with valid calls and valid JSON."""

import json

import pytest
from openai import OpenAI
from pydantic import BaseModel

from conftest import API_KEY

MODEL_ID = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city's name"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The current time in a time zone.",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
    },
}
ASK = [{"role": "user", "content": "What is the weather like in Paris today?"}]
FORCE = {"type": "function", "function": {"name": "get_weather"}}


@pytest.fixture
def client(qwen_server):
    return OpenAI(base_url=f"{qwen_server}/v1", api_key=API_KEY)


def check_weather_call(name: str, arguments: str):
    assert name == "get_weather"
    args = json.loads(arguments)
    assert set(args) == {"city"}, args
    assert isinstance(args["city"], str) and args["city"], args


def test_a_forced_tool_call_matches_the_schema(client):
    reply = client.chat.completions.create(
        model=MODEL_ID, messages=ASK, tools=[WEATHER, TIME], tool_choice=FORCE, temperature=0, max_tokens=60,
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    calls = choice.message.tool_calls
    assert len(calls) >= 1, choice.message
    for call in calls:
        assert call.type == "function" and call.id
        check_weather_call(call.function.name, call.function.arguments)
    assert json.loads(calls[0].function.arguments)["city"].lower().startswith("paris")


def test_a_forced_tool_call_streams_as_openai_streams_it(client):
    stream = client.chat.completions.create(
        model=MODEL_ID, messages=ASK, tools=[WEATHER, TIME], tool_choice=FORCE,
        parallel_tool_calls=False, temperature=0, max_tokens=60, stream=True,
    )
    calls: dict[int, dict] = {}
    finish = []
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        for part in delta.tool_calls or []:
            call = calls.setdefault(part.index, {"id": None, "name": "", "arguments": ""})
            call["id"] = call["id"] or part.id
            call["name"] += part.function.name or ""
            call["arguments"] += part.function.arguments or ""
        if chunk.choices[0].finish_reason:
            finish.append(chunk.choices[0].finish_reason)
    assert finish == ["tool_calls"]
    assert list(calls) == [0], calls
    assert calls[0]["id"]
    check_weather_call(calls[0]["name"], calls[0]["arguments"])


def test_required_picks_one_of_the_tools(client):
    reply = client.chat.completions.create(
        model=MODEL_ID, messages=[{"role": "user", "content": "What time is it in Tokyo?"}],
        tools=[WEATHER, TIME], tool_choice="required", temperature=0, max_tokens=60,
    )
    calls = reply.choices[0].message.tool_calls
    assert calls and all(c.function.name in ("get_weather", "get_time") for c in calls)
    for c in calls:
        assert isinstance(json.loads(c.function.arguments), dict)


def test_the_tool_result_sent_back_gives_a_final_answer(client):
    first = client.chat.completions.create(
        model=MODEL_ID, messages=ASK, tools=[WEATHER], tool_choice=FORCE,
        parallel_tool_calls=False, temperature=0, max_tokens=60,
    )
    call = first.choices[0].message.tool_calls[0]
    messages = ASK + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call.id, "type": "function",
             "function": {"name": call.function.name, "arguments": call.function.arguments}},
        ]},
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature_c": 18, "sky": "sunny"})},
    ]
    final = client.chat.completions.create(
        model=MODEL_ID, messages=messages, tools=[WEATHER], temperature=0, max_tokens=60,
    )
    choice = final.choices[0]
    assert choice.finish_reason in ("stop", "length"), choice
    assert not choice.message.tool_calls
    assert choice.message.content and "18" in choice.message.content, choice.message.content


class Weather(BaseModel):
    city: str
    temperature_c: int
    sunny: bool


def test_parse_with_a_pydantic_model(client):
    completion = client.chat.completions.parse(
        model=MODEL_ID,
        messages=[{"role": "user", "content": "Describe the weather in Rome as JSON: 25 degrees and sunny."}],
        response_format=Weather, temperature=0, max_tokens=80,
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Weather), completion.choices[0].message
    assert parsed.city


def test_json_object_content_parses(client):
    reply = client.chat.completions.create(
        model=MODEL_ID,
        messages=[{"role": "user", "content": "Give me a JSON object with the names of three colours."}],
        response_format={"type": "json_object"}, temperature=0, max_tokens=80,
    )
    assert isinstance(json.loads(reply.choices[0].message.content), dict)


def test_a_gbnf_grammar_string_is_followed(client):
    reply = client.chat.completions.create(
        model=MODEL_ID,
        messages=[{"role": "user", "content": "Is the sky green? Answer yes or no."}],
        temperature=0, max_tokens=10,
        extra_body={"grammar_string": 'root ::= ("yes" | "no") "."'},
    )
    assert reply.choices[0].message.content in ("yes.", "no.")


def test_a_bad_schema_is_a_bad_request(client):
    import openai

    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model=MODEL_ID, messages=ASK, tools=[WEATHER],
            tool_choice={"type": "function", "function": {"name": "nope"}},
        )
    assert "tool_choice" in str(err.value)


def test_logprobs_for_every_token(client):
    reply = client.chat.completions.create(
        model=MODEL_ID, messages=[{"role": "user", "content": "Name a fruit."}],
        logprobs=True, top_logprobs=3, max_tokens=12, temperature=0,
    )
    content = reply.choices[0].logprobs.content
    assert len(content) == reply.usage.completion_tokens
    for entry in content:
        assert entry.logprob <= 0
        assert len(entry.top_logprobs) == 3
        # Greedy: the chosen token is the most likely one.
        assert entry.top_logprobs[0].logprob == pytest.approx(entry.logprob, abs=1e-4)
        assert entry.top_logprobs[0].logprob >= entry.top_logprobs[1].logprob >= entry.top_logprobs[2].logprob
    assert "".join(e.token for e in content) == reply.choices[0].message.content


def test_n_returns_independent_choices(client):
    reply = client.chat.completions.create(
        model=MODEL_ID, messages=[{"role": "user", "content": "Write a word."}],
        n=2, max_tokens=8, temperature=1.0, seed=7,
    )
    assert [c.index for c in reply.choices] == [0, 1]
    assert all(c.message.content for c in reply.choices)
    stream = client.chat.completions.create(
        model=MODEL_ID, messages=[{"role": "user", "content": "Write a word."}],
        n=2, max_tokens=8, temperature=1.0, seed=7, stream=True,
    )
    texts = {0: "", 1: ""}
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    # The same seeds give the same two replies, streamed or not.
    assert [texts[0], texts[1]] == [c.message.content for c in reply.choices]


def test_tools_none_is_no_tools(client):
    # The SDK sends `tools=None` as JSON null; OpenAI reads it as no tools.
    reply = client.chat.completions.create(
        model=MODEL_ID, messages=ASK, tools=None, max_tokens=8, temperature=0
    )
    assert reply.choices[0].message.tool_calls is None
    assert reply.choices[0].finish_reason in ("stop", "length")
