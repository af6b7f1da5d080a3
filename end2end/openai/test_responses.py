"""The official openai client's Responses API (responses.create, streamed
and not, a function call and its output, a json_schema format) against
/v1/responses on the default model (Qwen2.5-Coder 0.5B)."""

import json

import openai
import pytest
from openai import OpenAI
from pydantic import BaseModel

from conftest import API_KEY

MODEL_ID = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


@pytest.fixture
def client(qwen_server):
    return OpenAI(base_url=f"{qwen_server}/v1", api_key=API_KEY, max_retries=0)


def test_text_and_its_stream_agree(client):
    r = client.responses.create(model=MODEL_ID, input="Name three colours.", instructions="Answer in one line.",
                                max_output_tokens=24, temperature=0)
    assert r.object == "response" and r.status in ("completed", "incomplete")
    assert r.output_text
    assert r.usage.input_tokens > 10 and r.usage.output_tokens > 0
    events = list(client.responses.create(model=MODEL_ID, input="Name three colours.",
                                          instructions="Answer in one line.",
                                          max_output_tokens=24, temperature=0, stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created"
    assert kinds[-1] in ("response.completed", "response.incomplete")
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == r.output_text == events[-1].response.output_text
    numbers = [e.sequence_number for e in events]
    assert numbers == list(range(len(events)))


def test_a_function_call_and_its_output(client):
    ask = [{"role": "user", "content": "What is the weather like in Paris today?"}]
    r = client.responses.create(model=MODEL_ID, input=ask, tools=[WEATHER], temperature=0,
                                tool_choice={"type": "function", "name": "get_weather"}, max_output_tokens=64)
    calls = [item for item in r.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert isinstance(json.loads(calls[0].arguments)["city"], str)
    followup = client.responses.create(
        model=MODEL_ID, tools=[WEATHER], temperature=0, max_output_tokens=48,
        input=ask + [calls[0].model_dump(exclude_none=True),
                     {"type": "function_call_output", "call_id": calls[0].call_id, "output": "Sunny, 21 degrees"}],
    )
    assert followup.output_text.strip()
    streamed = list(client.responses.create(model=MODEL_ID, input=ask, tools=[WEATHER], temperature=0,
                                            tool_choice="required", max_output_tokens=64, stream=True))
    arguments = "".join(e.delta for e in streamed if e.type == "response.function_call_arguments.delta")
    assert json.loads(arguments)["city"]


class City(BaseModel):
    name: str
    country: str


def test_a_json_schema_format_parses(client):
    r = client.responses.parse(model=MODEL_ID, input="Give me a famous city and its country.",
                               text_format=City, temperature=0, max_output_tokens=64)
    assert isinstance(r.output_parsed, City) and r.output_parsed.name


def test_stored_responses_are_refused_by_name(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model=MODEL_ID, input="Hi", previous_response_id="resp_123")
    assert e.value.body["param"] == "previous_response_id"
