"""The official anthropic client against /v1/messages on the default model
(Qwen2.5-Coder 0.5B): text streamed and not, a forced tool call and its
tool_result round trip, output_config's JSON schema, count_tokens, errors in Anthropic's shape."""

import json

import anthropic
import pytest

from conftest import API_KEY

MODEL_ID = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
WEATHER = {
    "name": "get_weather",
    "description": "The current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "The city's name"}},
        "required": ["city"],
    },
}
ASK = [{"role": "user", "content": "What is the weather like in Paris today?"}]


@pytest.fixture
def client(qwen_server):
    # The SDK sends the key as x-api-key, with an anthropic-version header.
    return anthropic.Anthropic(base_url=qwen_server, api_key=API_KEY, max_retries=0)


def test_a_message_and_its_stream_agree(client):
    ask = [{"role": "user", "content": "Name three colours."}]
    reply = client.messages.create(model=MODEL_ID, max_tokens=24, extra_body={"temperature": 0}, messages=ask,
                                   system="You answer in one line.")
    assert reply.type == "message" and reply.role == "assistant"
    assert reply.content[0].type == "text" and reply.content[0].text
    assert reply.stop_reason in ("end_turn", "max_tokens")
    assert reply.usage.input_tokens > 10 and reply.usage.output_tokens > 0
    with client.messages.stream(model=MODEL_ID, max_tokens=24, extra_body={"temperature": 0}, messages=ask,
                                system="You answer in one line.") as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert streamed == reply.content[0].text
    assert final.content[0].text == streamed
    assert final.usage.output_tokens == reply.usage.output_tokens


def test_a_forced_tool_call_and_its_result(client):
    reply = client.messages.create(
        model=MODEL_ID, max_tokens=64, extra_body={"temperature": 0}, messages=ASK, tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather"},
    )
    assert reply.stop_reason == "tool_use"
    calls = [b for b in reply.content if b.type == "tool_use"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert isinstance(calls[0].input["city"], str) and calls[0].input["city"]
    followup = client.messages.create(
        model=MODEL_ID, max_tokens=48, extra_body={"temperature": 0}, tools=[WEATHER],
        messages=ASK + [
            {"role": "assistant", "content": reply.content},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": calls[0].id, "content": "Sunny, 21 degrees"},
            ]},
        ],
    )
    text = "".join(b.text for b in followup.content if b.type == "text")
    assert followup.stop_reason in ("end_turn", "max_tokens")
    assert text.strip(), followup


def test_a_streamed_tool_call_arrives_whole(client):
    with client.messages.stream(
        model=MODEL_ID, max_tokens=64, extra_body={"temperature": 0}, messages=ASK, tools=[WEATHER],
        tool_choice={"type": "any"},
    ) as stream:
        events = [e.type for e in stream]
        final = stream.get_final_message()
    assert events[0] == "message_start"
    assert "content_block_start" in events and events[-1] == "message_stop"
    assert final.stop_reason == "tool_use"
    call = next(b for b in final.content if b.type == "tool_use")
    assert call.name == "get_weather" and isinstance(call.input["city"], str)


def test_output_config_format_constrains_the_answer(client):
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40},
                                               "country": {"type": "string", "maxLength": 40}},
              "required": ["city", "country"], "additionalProperties": False}
    reply = client.messages.create(
        model=MODEL_ID, max_tokens=96, messages=[{"role": "user", "content": "Give me a famous city and its country."}],
        extra_body={"temperature": 0, "output_config": {"format": {"type": "json_schema", "schema": schema}}})
    assert reply.stop_reason == "end_turn", reply
    answer = json.loads(reply.content[0].text)
    assert set(answer) == {"city", "country"}
    assert answer["city"] and answer["country"]


def test_count_tokens_counts_the_prompt(client):
    short = client.messages.count_tokens(model=MODEL_ID, messages=[{"role": "user", "content": "Hi"}])
    longer = client.messages.count_tokens(
        model=MODEL_ID, messages=[{"role": "user", "content": "Hi there, how are you doing today?"}])
    with_tools = client.messages.count_tokens(
        model=MODEL_ID, messages=[{"role": "user", "content": "Hi"}], tools=[WEATHER])
    assert 0 < short.input_tokens < longer.input_tokens < with_tools.input_tokens + 100
    assert with_tools.input_tokens > short.input_tokens


def test_errors_come_in_anthropic_s_shape(client, qwen_server):
    with pytest.raises(anthropic.BadRequestError) as e:
        client.messages.create(model=MODEL_ID, max_tokens=8, extra_body={"temperature": 9.0},
                               messages=[{"role": "user", "content": "Hi"}])
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] == "invalid_request_error"
    assert "temperature" in e.value.body["error"]["message"]
    wrong = anthropic.Anthropic(base_url=qwen_server, api_key="wrong-key", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as e:
        wrong.messages.create(model=MODEL_ID, max_tokens=8, messages=[{"role": "user", "content": "Hi"}])
    assert e.value.body["error"]["type"] == "authentication_error"
