"""The dry run's stand-in for data-making LLMs (`seqit_utils.llm.standin`), served over HTTP and asked through our
client: its replies to the project's own prompts parse with the project's own parsers, so Seq-Instruct changes real
Alpaca instructions, their steps split, and paraphrases come back; anything else gets a plain sentence."""

from __future__ import annotations

import pytest

from seqit_utils.data import loaders
from seqit_utils.llm.client import LLMClient, user_messages
from seqit_utils.llm.standin import MODEL, StandIn, standin_server, steps_of
from seqit_utils.prompts import paraphrase_messages, parse_paraphrase
from seqit_utils.sit import ablations, seq_instruct, seq_instruct_parsing, seq_instruct_prompts


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with standin_server() as endpoint:
        assert endpoint.model == MODEL
        yield LLMClient(
            endpoint.base_url, endpoint.model, cache=tmp_path_factory.mktemp("c") / "c.sqlite", progress=False
        )


def test_seq_instruct_over_real_alpaca_changes_instructions_and_their_steps_split(client, shared_data):
    records = loaders.load("alpaca", data_dir=shared_data, limit=40)
    run = seq_instruct.run_seq_instruct(records, client.complete, iterations=2, seed=0)
    first, second = run.summary["iterations"]
    assert first["options"]["B"] > 25 and first["fallbacks"] == {} and second["options"]["C"] > 20  # prefix, suffix
    last = run.records_by_iteration[-1]
    changed = [r for r, old in zip(last, records, strict=True) if r["instruction"] != old["instruction"]]
    assert len(changed) >= 25 and all(
        len(steps_of(r["instruction"])) == len(r["output"].splitlines()) for r in changed
    )
    with_steps, report = ablations.llm_steps(changed, client.complete)
    assert report["split_by_llm"] == len(changed) and report["left_out"] == {}
    split, _ = ablations.sit_split(with_steps, ablations.default_step_instruction({}, seed=0))
    assert len(split) == sum(len(r["steps"]) for r in with_steps) and split[0]["instruction"].endswith(".")
    again = seq_instruct.run_seq_instruct(records, client.complete, iterations=2, seed=0)
    assert again.records_by_iteration == run.records_by_iteration and client.stats.requests == 0  # cached


def test_paraphrase_options_and_other_prompts(client):
    (reply,) = client.complete([paraphrase_messages("The cat sleeps on the mat.")])
    assert parse_paraphrase(reply.text) == "In other words: The cat sleeps on the mat."
    (other,) = client.complete([user_messages("Rate this answer.", system="You are a judge.")])
    assert other.text.startswith("I am a stand-in")
    only_d = seq_instruct_prompts.build_option_messages("Name a prime.", allowed=["D"], rng=0)
    assert seq_instruct_parsing.parse_option(StandIn().reply(only_d), ["D"])[0] == "D"
    assert steps_of("First list the facts, then sort them, then sum up.") == [
        "List the facts.",
        "Sort them.",
        "Sum up.",
    ]
