"""Tests for the suite generator (stands in for Llama-3-70B-Instruct) and Seq-Instruct run through its live server.

No fake anywhere: the generator is the component under test, served over real HTTP, and the pipeline around it is
the project's own (`seq_instruct` prompts/parsers/iterations, `LLMClient` with its request cache).
"""

from __future__ import annotations

import json
import math
import os
import urllib.error
import urllib.request
from collections import Counter

import pytest

from seqit_utils.data import tasks
from seqit_utils.llm import suite_generator as sg
from seqit_utils.llm.suite_server import completion_body, run_suite_seq_instruct, suite_generator_server
from seqit_utils.sit import manual, seq_instruct_prompts
from seqit_utils.sit.seq_instruct_parsing import parse_new_instruction, parse_option
from seqit_utils.sit.seq_instruct_prompts import (
    build_option_messages,
    build_response_messages,
    build_rewrite_messages,
)

RATES = {"A": 0.2, "B": 0.35, "C": 0.25, "D": 0.2}  # one set for single and sequential instructions
NOT_SUITE = ("Write a haiku about autumn rain.", "")


@pytest.fixture(scope="module")
def suite() -> dict[str, list[dict]]:
    return tasks.generate_suite(seed=1, n_train_per_task=40, n_eval_per_split=60)


def _tolerance(p: float, n: int) -> float:
    return 4 * math.sqrt(p * (1 - p) / n) + 0.01  # 4 binomial sd: the run is seeded, this bounds honest drift


# ---- reading the suite's wording ----


def test_parse_suite_instruction_reads_every_split(suite: dict[str, list[dict]]) -> None:
    for split, records in suite.items():
        for r in records:
            assert sg.parse_suite_instruction(r["instruction"]) == r["task"].split(">"), (split, r["instruction"])
    repeat = manual.repeat_sit(suite["eval_single"][:20])  # manual SIT: "First repeat the input, then <instruction>"
    assert [sg.parse_suite_instruction(r["instruction"]) for r in repeat] == [
        ["repeat", r["task"]] for r in suite["eval_single"][:20]
    ]
    assert sg.parse_suite_instruction("Sort the items and count them.") is None
    assert sg.parse_suite_instruction(NOT_SUITE[0]) is None
    assert not set(sg.FIRST_CLAUSES) & {c for c, n in sg.LATER_CLAUSES.items() if sg.FIRST_CLAUSES.get(c) != n}


def test_candidates_keep_types_and_decompositions_keep_the_answer() -> None:
    for names, text in ((["max"], "3 17 5"), (["first"], "dog cat apple"), (["sort", "last"], "4 9 1")):
        gold = tasks.run_chain(names, text)[-1]
        found = sg.candidates(names, text, "A")
        assert found and all(tasks.run_chain(c, text)[-1] == gold and len(c) == len(names) + 1 for c in found)
    assert sg.candidates(["sort"], "dog cat", "A") == []  # no known decomposition of sort
    for option, where in (("B", 0), ("C", -1)):
        found = sg.candidates(["first"], "dog cat apple", option)
        assert found and all(len(c) == 2 for c in found)
        assert {c[1 + where] for c in found} == {"first"}
        assert all(c[where] != "first" for c in found)
    # after a one-item result only element-wise tasks follow (the suite's typing), never e.g. sort or count
    assert {c[-1] for c in sg.candidates(["first"], "dog cat apple", "C")} <= {"repeat", "upper", "translate"}


# ---- replies to seq_instruct's own prompts ----


def test_replies_to_the_three_prompts() -> None:
    generator = sg.SuiteGenerator(RATES, RATES, seed=0)
    instruction, text = "Give the first item.", "dog cat apple"
    options = Counter(
        parse_option(generator.reply(build_option_messages(instruction, text, rng=k))) for k in range(300)
    )
    assert {reason for _, reason in options} == {"verdict"}
    for option in ("A", "B", "C"):
        reply = generator.reply(build_rewrite_messages(instruction, text, option=option, rng=0))
        new, reason = parse_new_instruction(reply, instruction)
        assert reason == "ok" and new != instruction
        names = sg.parse_suite_instruction(new)
        assert names in sg.candidates(["first"], text, option)
        answer = generator.reply(build_response_messages(new, text))
        assert answer == "\n".join(tasks.run_chain(names, text))
    only_bc = build_option_messages(instruction, text, allowed="BCD", rng=0)
    assert parse_option(generator.reply(only_bc))[0] in "BCD"


def test_shares_follow_the_rates_where_every_option_fits(suite: dict[str, list[dict]]) -> None:
    generator = sg.SuiteGenerator(RATES, RATES, seed=3)
    records = [r for r in suite["train_it"] if r["task"] in sg.DECOMPOSITIONS]
    picks = Counter(
        parse_option(generator.reply(build_option_messages(r["instruction"], r["input"], rng=r["id"])))[0]
        for r in records
    )
    assert len(records) >= 150
    for option, rate in RATES.items():
        assert generator.option_probabilities(records[0]["instruction"], records[0]["input"])[option] == rate
        assert abs(picks[option] / len(records) - rate) <= _tolerance(rate, len(records)), (option, picks)


def test_unrecognised_prompts_get_llm_like_replies() -> None:
    generator = sg.SuiteGenerator()
    option = generator.reply(build_option_messages(*NOT_SUITE, rng=0))
    assert parse_option(option) == ("D", "verdict")
    rewrite = generator.reply(build_rewrite_messages(*NOT_SUITE, option="B", rng=0))
    assert parse_new_instruction(rewrite, NOT_SUITE[0]) == (None, "fallback:no_marker")
    assert generator.reply(build_response_messages(*NOT_SUITE)) == sg.PLAIN_REPLY
    assert generator.reply([]) == sg.PLAIN_REPLY
    assert generator.reply([{"role": "user", "content": None}]) == sg.PLAIN_REPLY
    ill_typed = generator.reply(build_response_messages("Give the largest number.", "dog cat"))
    assert ill_typed.startswith("The input does not fit")
    no_fit = generator.reply(build_rewrite_messages("Sort the items.", "dog cat", option="A", rng=0))
    assert parse_new_instruction(no_fit)[0] is None


def test_deterministic_and_seeded() -> None:
    messages = [build_option_messages("Sort the items.", "4 2 9", rng=k) for k in range(60)]
    first = [sg.SuiteGenerator(RATES, RATES, seed=0).reply(m) for m in messages]
    assert first == [sg.SuiteGenerator(RATES, RATES, seed=0).reply(m) for m in messages]
    assert first != [sg.SuiteGenerator(RATES, RATES, seed=1).reply(m) for m in messages]
    assert sg.SuiteGenerator(seed=0).model != sg.SuiteGenerator(seed=1).model
    assert sg.SuiteGenerator(RATES, RATES).model != sg.SuiteGenerator().model  # rates are in the cache key
    assert sg.SuiteGenerator.from_rates(RATES).single_rates == RATES
    paper = sg.SuiteGenerator.from_rates({"single": {"B": 1}})
    assert paper.single_rates["B"] == 1 and paper.sequential_rates["D"] == pytest.approx(0.63)


@pytest.mark.parametrize("rates", [{"E": 1}, {"A": -1, "B": 2}, {"A": 0}, ["A"]])
def test_rates_validation(rates: object) -> None:
    with pytest.raises(ValueError, match="rates"):
        sg.SuiteGenerator(rates, RATES)


# ---- the HTTP endpoint ----


def _call(url: str, body: bytes | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_server_speaks_openai_and_survives_bad_requests() -> None:
    with suite_generator_server(RATES, seed=0) as endpoint:
        assert "stands in for Llama-3-70B-Instruct" in endpoint.model
        status, models = _call(endpoint.base_url + "/models")
        assert status == 200 and [m["id"] for m in models["data"]] == [endpoint.model]
        url = endpoint.base_url + "/chat/completions"
        ok = {"model": endpoint.model, "messages": build_response_messages("Sort the items.", "4 2 9")}
        status, body = _call(url, json.dumps(ok).encode())
        assert status == 200 and body["model"] == endpoint.model
        assert body["choices"][0]["message"]["content"] == "2 4 9" and body["usage"]["completion_tokens"] == 3
        bad = [b"{not json", b"[1]", json.dumps({**ok, "model": "gpt-4"}).encode(),
               json.dumps({**ok, "messages": "hi"}).encode(), json.dumps({**ok, "stream": True}).encode()]  # fmt: skip
        assert [_call(url, b)[0] for b in bad] == [400, 400, 404, 400, 400]
        assert _call(endpoint.base_url + "/completions", b"{}")[0] == 404
        weird = {**ok, "messages": [{"role": "user", "content": "???"}], "max_tokens": 3}
        status, body = _call(url, json.dumps(weird).encode())
        assert status == 200 and body["choices"][0]["finish_reason"] == "length"
        assert _call(endpoint.base_url.removesuffix("/v1") + "/health")[0] == 200
        pid = endpoint.pid
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_completion_body_is_pure() -> None:
    generator = sg.SuiteGenerator()
    request = {"model": generator.model, "messages": build_response_messages("Count the items.", "dog cat")}
    status, body = completion_body(generator, request)
    assert status == 200 and body["choices"][0]["message"]["content"] == "2"


# ---- the real Seq-Instruct pipeline over the live server ----


@pytest.fixture(scope="module")
def run(suite: dict[str, list[dict]], tmp_path_factory: pytest.TempPathFactory) -> dict:
    # 200 suite records and one the generator does not recognise (it must hold, not break the run)
    other = {"id": "alpaca-like", "instruction": NOT_SUITE[0], "input": "", "output": "Leaves fall in the rain."}
    records = [*suite["train_it"][:200], other]
    cache = tmp_path_factory.mktemp("cache")
    sit, stats = run_suite_seq_instruct(records, RATES, 2, 0, cache, progress=False)
    again, stats_again = run_suite_seq_instruct(records, RATES, 2, 0, cache, progress=False)
    return {"records": records, "sit": sit, "stats": stats, "again": again, "stats_again": stats_again}


def test_pipeline_option_shares_near_the_rates(run: dict) -> None:
    generator = sg.SuiteGenerator.from_rates(RATES)
    records, summary = run["records"], run["stats"]["summary"]
    assert summary["fallbacks"] == {}
    expected = Counter()
    for r in records:
        expected.update(generator.option_probabilities(r["instruction"], r["input"]))
    shares = run["stats"]["table4"]["iterations"][1]["option_share"]
    for option in sg.OPTIONS:
        p = expected[option] / len(records)
        assert abs(shares[option] - p) <= _tolerance(p, len(records)), (option, shares, p)
    assert abs(shares["D"] - RATES["D"]) < 0.1 and shares["A"] < RATES["A"]  # A fits only some tasks
    # iteration 2 asks about the instructions iteration 1 left (`parent_instruction` of the final records)
    expected = Counter()
    for r in run["sit"]:
        expected.update(generator.option_probabilities(r["parent_instruction"], r["input"]))
    shares = run["stats"]["table4"]["iterations"][2]["option_share"]
    for option in sg.OPTIONS:
        p = expected[option] / len(records)
        assert abs(shares[option] - p) <= _tolerance(p, len(records)), (option, shares, p)


def test_pipeline_records_parse_and_match_the_ground_truth(run: dict) -> None:
    sit, records = run["sit"], run["records"]
    assert len(sit) == len(records) and [r["id"] for r in sit] == [r["id"] for r in records]
    changed = [r for r, old in zip(sit, records, strict=True) if r["instruction"] != old["instruction"]]
    assert len(changed) > len(records) / 2
    assert sit[-1]["instruction"] == NOT_SUITE[0] and sit[-1]["option"] == "D" and sit[-1]["answer_ok"] is None
    assert sit[-1]["output"] == records[-1]["output"] and sit[-1]["reasons"]["option"] == "verdict"
    sit = sit[:-1]
    for r in sit:
        names = sg.parse_suite_instruction(r["instruction"])
        assert names is not None and r["task"] == ">".join(names)
        assert r["output"] == "\n".join(tasks.run_chain(names, r["input"])) and r["answer_ok"] is True
        assert r["output"] == "\n".join(step["output"] for step in r["steps"])
    assert max(r["n_steps"] for r in sit) >= 3
    answers = run["stats"]["answers"]
    assert answers["n_correct"] == answers["n_gold"] == len(sit) and answers["n_changed"] == len(changed)


def test_pipeline_table4_is_non_trivial(run: dict) -> None:
    table = run["stats"]["table4"]["iterations"]
    assert list(table) == [0, 1, 2] and table[0]["option_share"] == dict.fromkeys(seq_instruct_prompts.OPTIONS)
    for k in (1, 2):
        assert sum(table[k]["option_share"].values()) == pytest.approx(1.0)
        assert table[k]["n"] == 201
    assert table[1]["option_share"]["D"] < 0.5  # iteration 1 changes most records
    assert table[0]["avg_input_tokens"] < table[1]["avg_input_tokens"] < table[2]["avg_input_tokens"]
    assert table[0]["avg_output_tokens"] < table[1]["avg_output_tokens"] < table[2]["avg_output_tokens"]
    assert "MiniLM" in run["stats"]["table4"]["tokenizer"]


def test_cached_rerun_sends_no_request(run: dict) -> None:
    first, again = run["stats"]["client"], run["stats_again"]["client"]
    assert first["requests"] > 2 * len(run["records"]) and first["failures"] == 0
    assert again["requests"] == 0 and again["cache_hits"] == again["items"] == first["items"]
    assert run["again"] == run["sit"]


def test_split_replies_parse_into_the_chains_ground_truth_steps() -> None:
    """§5.1 SIT-split over the suite generator: its reply to our split request parses into the chain's steps."""
    from seqit_utils.sit import ablations

    assert sg.SPLIT_MARKER in ablations.build_split_messages({"instruction": "x", "output": "y"})[1]["content"]
    suite = tasks.generate_suite(seed=3, n_train_per_task=1, n_train_sit=0, n_eval_per_split=20)
    for record in suite["eval_seq3"] + suite["eval_seq2_seen"]:
        reply = sg.SuiteGenerator().reply(ablations.build_split_messages(record))
        steps, reason = ablations.parse_split(reply)
        assert reason == "ok" and [s["output"] for s in steps] == [s["output"] for s in record["steps"]], reply
        assert [sg.parse_suite_instruction(s["instruction"]) for s in steps] == [[s["task"]] for s in record["steps"]]
    single = suite["eval_single"][0]
    assert ablations.parse_split(sg.SuiteGenerator().reply(ablations.build_split_messages(single)))[0] is None
