"""text-generation-webui's newer samplers (DRY, XTC, top-n-sigma) through
the official openai client on the default model (Qwen2.5-Coder 0.5B): they
are accepted under TGW's names, refused by name when out of range, and do
what they are for."""

from collections import Counter

import openai
import pytest
from openai import OpenAI

from conftest import API_KEY

MODEL_ID = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
# Greedy Qwen 0.5B falls into a loop of one line here (seen in the chat too).
POEM = [{"role": "user", "content": "Write a poem about the sea where every line starts with 'The sea'."}]


@pytest.fixture(scope="module")
def client(qwen_server):
    return OpenAI(base_url=f"{qwen_server}/v1", api_key=API_KEY)


def most_repeated_line(text: str) -> int:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return Counter(lines).most_common(1)[0][1] if lines else 0


def poem(client, **extra) -> str:
    reply = client.chat.completions.create(
        model=MODEL_ID, messages=POEM, max_tokens=200, temperature=0,
        extra_body={"repetition_penalty": 1.0, **extra},
    )
    return reply.choices[0].message.content


def test_dry_stops_the_repeated_line_loop(client):
    looping = poem(client)
    assert most_repeated_line(looping) >= 8, looping
    free = poem(client, dry_multiplier=0.8)
    assert most_repeated_line(free) <= 3, free
    # llama-server's list form of the breakers is read too.
    listed = poem(client, dry_multiplier=0.8, dry_sequence_breakers=["\n", ":", "\"", "*"])
    assert listed == free


FOX = [{"role": "user", "content": "Tell a two-sentence story about a fox."}]


def fox_story(client, max_tokens, seed=None, temperature=1.0, **extra) -> str:
    """A short story sampled with `extra` (TGW's names), seeded when asked."""
    seeded = {} if seed is None else {"seed": seed}
    reply = client.chat.completions.create(
        model=MODEL_ID, messages=FOX, max_tokens=max_tokens, temperature=temperature,
        extra_body=extra, **seeded,
    )
    return reply.choices[0].message.content


def test_xtc_and_top_n_sigma_change_sampled_replies_and_keep_seeds(client):
    def story(**extra):
        return fox_story(client, 40, seed=11, **extra)
    plain = story()
    assert story() == plain, "a seed gives the same reply"
    xtc = story(xtc_probability=1.0, xtc_threshold=0.1)
    assert xtc == story(xtc_probability=1.0, xtc_threshold=0.1)
    assert xtc != plain
    # At a tiny n, top-n-sigma keeps only the best token: greedy's reply.
    greedy = fox_story(client, 40, temperature=0)
    assert story(top_n_sigma=0.001) == greedy


def test_dynamic_temperature_smoothing_and_mirostat_sample_reproducibly(client):
    def story(**extra):
        return fox_story(client, 30, seed=3, **extra)
    plain = story()
    for extra in [
        {"dynamic_temperature": True, "dynatemp_low": 0.5, "dynatemp_high": 2.0},
        {"smoothing_factor": 0.3, "smoothing_curve": 1.5},
        {"mirostat_mode": 2, "mirostat_tau": 3.0, "mirostat_eta": 0.1},
        {"temperature_last": True, "min_p": 0.1},
    ]:
        text = story(**extra)
        assert text == story(**extra), extra
        assert text, extra
    assert story(mirostat_mode=2, mirostat_tau=3.0) != plain


TGW_DEFAULT_ORDER = ("repetition_penalty\npresence_penalty\nfrequency_penalty\ndry\ntop_n_sigma\ntemperature\n"
                     "dynamic_temperature\nquadratic_sampling\ntop_k\ntop_p\ntypical_p\nepsilon_cutoff\neta_cutoff\n"
                     "tfs\ntop_a\nmin_p\nmirostat\nxtc\nencoder_repetition_penalty\nno_repeat_ngram")


def test_sampler_priority_orders_the_samplers(client):
    def story(**extra):
        return fox_story(client, 40, seed=5, temperature=2.0, min_p=0.2, **extra)
    # TGW's default order, as its text, is the order without the field.
    plain = story()
    assert story(sampler_priority=TGW_DEFAULT_ORDER) == plain
    # min_p before the temperature judges the sharp distribution (few
    # tokens stay); after it, the flattened one: another reply, each
    # reproducible, and the list form reads as the text form.
    min_p_first = story(sampler_priority=["min_p", "temperature"])
    assert min_p_first == story(sampler_priority="min_p\ntemperature")
    assert min_p_first != plain


@pytest.mark.parametrize("field,value", [
    ("dry_multiplier", 6), ("dry_base", 1.0), ("dry_allowed_length", 0),
    ("xtc_threshold", 0.9), ("xtc_probability", 1.5), ("top_n_sigma", -1),
    ("dry_sequence_breakers", "\\n, :"), ("mirostat_mode", 1), ("smoothing_curve", 4),
    ("dynatemp_exponent", 0), ("sampler_priority", "temperature\ntop_z"),
    ("sampler_priority", ["top_k", "top_k"]),
])
def test_out_of_range_samplers_are_refused_by_name(client, field, value):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model=MODEL_ID, messages=[{"role": "user", "content": "hi"}], max_tokens=2,
            extra_body={field: value},
        )
    assert field in str(err.value)
