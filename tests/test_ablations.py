"""Ablation training sets (§5.1) built from real Alpaca records (../shared/data) and the task suite: sizes and token
totals match their definitions, step chains are right, and the builders are seeded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from seqit_utils.data import author_loaders, loaders, tasks
from seqit_utils.sit import ablations, seq_instruct_stats
from seqit_utils.sit import manual as sit


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


# ---------------------------------------------------------------- SIT-split of Seq-Instruct records (steps by an LLM)
RECORDED = "alpaca-cleaned-gpt-3.5-turbo-generate_instruct-refine-response-final"  # real rewrites + responses
THEN = re.compile(r", then|\. Then,?")


class ScriptedSplitter:
    """A scripted LLM at the `complete` boundary (no LLM here that splits reliably): it cuts the instruction of the
    request at ", then" / ". Then" and the response at its first blank line (or halfway), and answers in the asked
    format; an instruction without either gets one step back (which the parser refuses)."""

    def __init__(self):
        self.requests = 0

    def __call__(self, conversations):
        self.requests += len(conversations)
        return [self._reply(c[-1]["content"]) for c in conversations]

    @staticmethod
    def _reply(prompt: str) -> str:
        body = prompt.rsplit("#Instruction#: ", 1)[1]
        instruction, rest = body.split("\n#Input#: ", 1)
        output = rest.split("\n#Response#: ", 1)[1]
        if not THEN.search(instruction):
            return f"#Step 1 Instruction#: {instruction}\n#Step 1 Response#: {output}\n###"
        first, second = THEN.split(instruction, maxsplit=1)
        cut = output.find("\n\n") if "\n\n" in output else len(output) // 2
        return (f"#Step 1 Instruction#: {first}.\n#Step 1 Response#: {output[:cut]}\n"
                f"#Step 2 Instruction#: {second.strip()}\n#Step 2 Response#: {output[cut:]}\n###\nDone.")  # fmt: skip


@pytest.fixture(scope="module")
def seq_instruct_records(shared_data):
    from seqit_utils.sit import seq_instruct_parsing

    out = []
    for r in author_loaders.load_selfseq_samples(name=RECORDED, data_dir=shared_data):
        new, _ = seq_instruct_parsing.parse_new_instruction(
            r.get("new_instruction") or r["completions"], r["instruction"]
        )
        if r.get("option") in ("A", "B", "C") and new and r["output"].strip():
            out.append({"id": r["id"], "instruction": new, "input": r["input"], "output": r["output"]})
    return out


def test_parse_split_reads_numbered_steps_and_refuses_the_rest():
    reply = (
        "#Step 1 Instruction#: List the primes below 10.\n#Step 1 Response#: 2, 3, 5, 7\n"
        "#Step 2 Instruction#: Sum them.\n#Step 2 Response#: ### Sum\n17\n###\nAnything after the end line."
    )
    steps, reason = ablations.parse_split(reply)
    assert reason == "ok"
    assert steps == [
        {"instruction": "List the primes below 10.", "output": "2, 3, 5, 7"},
        {"instruction": "Sum them.", "output": "### Sum\n17"},  # a markdown heading is part of the response
    ]
    one = "#Step 1 Instruction#: Sum them.\n#Step 1 Response#: 17"
    gap = one + "\n#Step 3 Instruction#: x\n#Step 3 Response#: y"
    empty = one + "\n#Step 2 Instruction#: x\n#Step 2 Response#: "
    twice = one + "\n#Step 1 Response#: 18\n#Step 2 Instruction#: x\n#Step 2 Response#: y"
    for bad, why in [(None, "no steps"), ("The steps are: sum them.", "no steps"), (one, "one step"),
                     (gap, "steps not numbered 1, 2, ..."), (empty, "a step without instruction or response"),
                     (twice, "step 1 has two responses")]:  # fmt: skip
        assert ablations.parse_split(bad) == (None, why)


def test_llm_steps_split_real_seq_instruct_records_and_sit_split_chains_them(seq_instruct_records):
    records = seq_instruct_records
    steps = [{"task": "repeat", "output": "a b"}, {"task": "reverse", "output": "b a"}]
    recorded = {"id": "suite/0", "instruction": "First repeat the input, then reverse it.", "input": "a b",
                "output": "a b\nb a", "steps": steps}  # fmt: skip
    splitter = ScriptedSplitter()
    with_steps, report = ablations.llm_steps([recorded, *records], splitter)
    assert splitter.requests == len(records)  # a record with recorded steps is not sent
    two_step = [r for r in records if THEN.search(r["instruction"])]
    assert len(two_step) >= 20  # real prefix/suffix rewrites ("… . Then, …")
    unsplit = {"one step": len(records) - len(two_step)}
    assert report == {"records": len(records) + 1, "with_steps": len(two_step) + 1, "recorded_steps": 1,
                      "split_by_llm": len(two_step), "left_out": unsplit}  # fmt: skip
    assert with_steps[0] is recorded
    split, split_report = ablations.sit_split(with_steps, ablations.default_step_instruction({}, seed=0))
    assert split_report["records"] == 2 * len(with_steps) and split_report["left_out"] == {}
    for first, second in zip(split[2::2], split[3::2], strict=True):  # the LLM-split records, step by step
        source = next(r for r in records if r["id"] == first["source_id"])
        assert first["input"] == source["input"] and second["input"] == first["output"]  # step 2 reads step 1
        squeeze = lambda text: "".join(text.split())  # noqa: E731 (the parser strips each part)
        assert squeeze(first["output"] + second["output"]) == squeeze(source["output"])
        assert first["instruction"] == THEN.split(source["instruction"], maxsplit=1)[0] + "."


def test_seq_instruct_split_of_the_profile_takes_only_changed_records(tmp_path, seq_instruct_records):
    from seqit_utils import io
    from seqit_utils.config import load_config

    config = load_config("smoke")
    out = tmp_path / config.output_dir
    changed = seq_instruct_records[:6]
    sources = [{**r, "instruction": f"original {i}", "output": "x"} for i, r in enumerate(changed)]
    held = {**changed[0], "id": "held", "instruction": "kept as it was"}
    io.write_jsonl(out / "data" / f"{config.seq_instruct.source}.jsonl", [*sources, {**held}])
    iteration_2 = [{**r, "source_id": r["id"]} for r in changed] + [{**held, "source_id": "held"}]
    io.write_jsonl(out / config.ablations.seq_instruct_split.source, iteration_2)
    splitter = ScriptedSplitter()
    split, report = ablations.build_seq_instruct_split(config, splitter, tmp_path)
    assert report["sequential_in_source"] == len(changed) and splitter.requests == len(changed)
    assert report["records"] == len(split) == 2 * report["steps"]["split_by_llm"]
    count = seq_instruct_stats.token_counter(seq_instruct_stats.minilm_tokenizer())
    assert report["output_tokens"] == sum(count([r["output"] for r in split])) > 0
    assert "SIT-split of Seq-Instruct" in ablations.report_markdown({**_reports_stub(), "seq_instruct_split": report})
    with pytest.raises(FileNotFoundError, match="ablations.seq_instruct_split.source"):
        (out / config.ablations.seq_instruct_split.source).unlink()
        ablations.build_seq_instruct_split(config, splitter, tmp_path)


def _reports_stub():
    return {"it": 1, "tokenizer": "t", "seed": 0,
            "data_level": {"it_output_tokens": 1, "sit_records": 1, "sit_output_tokens": 1, "difference": 0},
            "instance_level": {"pairs": 1, "tokens": 1, "it_unpaired": 0},
            "sit_split": {"records": 2, "sequential_records": 1, "output_tokens": 5},
            "sit_multi": {"records": 1, "turns": 2, "output_tokens": 5}}  # fmt: skip


def test_the_paper_ablates_seq_instruct_sit_whose_steps_an_llm_splits(tmp_path, alpaca):
    """ablations.sit_set = seq_instruct (paper): IT = stage 02's Alpaca, SIT = stage 03's Seq-Instruct records paired
    by id; data-level draws from every SIT record, instance-level from the changed ones, SIT-split / SIT-multi from
    the steps the LLM gives (here the dry run's stand-in program, answering in process)."""
    import yaml

    from seqit_utils import io
    from seqit_utils.config import validate
    from seqit_utils.llm.standin import StandIn
    from seqit_utils.sit import ablation_pair, seq_instruct

    raw = yaml.safe_load((Path(__file__).resolve().parents[1] / "params" / "smoke.yaml").read_text(encoding="utf-8"))
    raw["ablations"]["sit_set"] = "seq_instruct"
    config = validate(raw | {"profile": "smoke"}, source="test")
    it = alpaca[0][:40]
    out = tmp_path / config.output_dir
    io.write_jsonl(out / "sit" / "it.jsonl", it)
    complete = lambda requests: [StandIn().reply(messages) for messages in requests]  # noqa: E731
    with pytest.raises(FileNotFoundError, match="run `dvc repro seq_instruct` first"):
        ablations.build_all(config, tmp_path, complete)
    run = seq_instruct.run_seq_instruct(it, complete, iterations=2, seed=0)
    io.write_jsonl(out / "seq_instruct" / "iteration_2.jsonl", run.records_by_iteration[-1])
    with pytest.raises(ValueError, match="SIT-split and SIT-multi need an LLM"):
        ablation_pair.load(config, tmp_path)
    sets, reports = ablations.build_all(config, tmp_path, complete)
    changed = sum(
        r["instruction"] != old["instruction"] for r, old in zip(run.records_by_iteration[-1], it, strict=True)
    )
    assert reports["sit_set"].startswith("seq_instruct: seq_instruct/iteration_2.jsonl")
    assert (reports["it"], reports["sit"], reports["sit_sequential"]) == (40, 40, changed) and changed >= 25
    assert reports["seq_instruct_steps"]["split_by_llm"] == changed  # every stand-in reply splits
    assert reports["data_level"]["sit_available"] == 40 and reports["instance_level"]["sit_available"] == changed
    assert len(sets["sit_multi"]) == changed and len(sets["sit_split"]) == sum(
        len(m["messages"]) // 2 for m in sets["sit_multi"]
    )
    assert all(set(r) == {"id", "instruction", "input", "output"} for r in sets["data_level"])  # training records
    assert "SIT set: seq_instruct" in ablations.report_markdown(reports)
    other = [{**r, "id": f"other/{k}", "source_id": f"other/{k}"} for k, r in enumerate(run.records_by_iteration[-1])]
    io.write_jsonl(out / "seq_instruct" / "iteration_2.jsonl", other)
    with pytest.raises(ValueError, match="pairs the IT set .* by id"):
        ablations.build_all(config, tmp_path, complete)
