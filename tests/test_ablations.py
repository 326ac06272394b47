"""Ablation training sets (§5.1) built from real Alpaca records (../shared/data) and the task suite: sizes and token
totals match their definitions, step chains are right, and the builders are seeded."""

from __future__ import annotations

import pytest

from seqit_utils import ablations, loaders, seq_instruct_stats, sit, tasks


@pytest.fixture(scope="module")
def count():
    return seq_instruct_stats.token_counter(seq_instruct_stats.minilm_tokenizer())


@pytest.fixture(scope="module")
def alpaca(shared_data):
    it = loaders.load_alpaca(data_dir=shared_data)
    with_input = [r for r in it if r["input"].strip()]
    return it, sit.repeat_sit(with_input)


def test_data_level_matches_the_it_output_tokens_within_one_record(alpaca, count):
    it, repeat = alpaca
    sit_set = it + repeat  # the SIT training set: IT plus its sequential versions (more output tokens)
    chosen, report = ablations.data_level(it, sit_set, count, seed=0)
    assert report["reached"] and 0 <= report["difference"] < max(count([r["output"] for r in chosen]))
    assert report["sit_output_tokens"] == sum(count([r["output"] for r in chosen]))
    assert report["it_output_tokens"] == sum(count([r["output"] for r in it]))
    assert report["sit_records"] == len(chosen) < len(sit_set)
    again, _ = ablations.data_level(it, sit_set, count, seed=0)
    other, _ = ablations.data_level(it, sit_set, count, seed=1)
    assert again == chosen and [r["id"] for r in other] != [r["id"] for r in chosen]


def test_instance_level_pairs_examples_of_equal_token_length(alpaca, count):
    it, repeat = alpaca
    (it_subset, sit_subset), report = ablations.instance_level(it, repeat, count, seed=0)
    assert len(it_subset) == len(sit_subset) == report["pairs"] > 20
    lengths = lambda rows: count([ablations._example_text(r) for r in rows])  # noqa: E731
    assert lengths(it_subset) == lengths(sit_subset) and report["equal_lengths"]
    assert len({r["id"] for r in sit_subset}) == len(sit_subset)  # each SIT example used once
    assert report["it_unpaired"] == len(it) - report["pairs"]


def test_sit_split_of_manual_sit_gives_the_intermediate_and_the_original_task(alpaca):
    it, repeat = alpaca
    originals = {r["id"]: r["instruction"] for r in it}
    split, report = ablations.sit_split(repeat, ablations.manual_step_instruction(originals))
    assert report == {"sequential_records": len(repeat), "records": 2 * len(repeat), "left_out": {}}
    first, second = split[0], split[1]
    source = next(r for r in it if r["id"] == repeat[0]["source_id"])
    assert (first["instruction"], first["input"], first["output"]) == (
        "Repeat the input.",
        source["input"],
        source["input"],
    )
    assert (second["instruction"], second["input"], second["output"]) == (
        source["instruction"],
        source["input"],
        source["output"],
    )


def test_sit_split_and_multi_on_task_suite_chains_follow_the_step_outputs():
    suite = tasks.generate_suite(seed=0, n_train_per_task=2, n_train_sit=40, n_eval_per_split=2)
    chains = suite["train_sit_chains"]
    split, report = ablations.sit_split(chains, ablations.suite_step_instruction(seed=0))
    assert report["records"] == sum(r["n_steps"] for r in chains) and report["left_out"] == {}
    for record in split:  # every single-task record is its task applied to its input
        assert tasks.apply_task(record["steps"][0]["task"], record["input"]) == record["output"]
    multi, report = ablations.sit_multi(chains, ablations.suite_step_instruction(seed=0))
    assert report["records"] == len(chains)
    messages = multi[0]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"] * chains[0]["n_steps"]
    assert chains[0]["input"] in messages[0]["content"]
    assert [m["content"] for m in messages[1::2]] == [s["output"] for s in chains[0]["steps"]]
    unknown = [{**chains[0], "steps": [{"task": "paraphrase", "output": None}, chains[0]["steps"][-1]]}]
    assert ablations.sit_split(unknown, ablations.suite_step_instruction(0))[1]["left_out"] == {
        "unknown step output or instruction": 1
    }
