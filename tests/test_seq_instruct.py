"""Seq-Instruct (§2.2, App. B.4, Table 4): prompts, parsers, the iteration driver, and the statistics on the authors'
recorded generator outputs (../shared/data/seqit_selfseq_samples/alpaca)."""

from __future__ import annotations

import json
import random

import pytest

from seqit_utils.sit.seq_instruct import run_seq_instruct, seq_instruct_step, summarize_run
from seqit_utils.sit.seq_instruct_parsing import parse_new_instruction, parse_option, unwrap
from seqit_utils.sit.seq_instruct_prompts import (
    build_option_messages,
    build_response_messages,
    build_rewrite_messages,
    check_options,
)
from seqit_utils.sit.seq_instruct_stats import (
    MINILM_TOKENIZER,
    agreement_by_file,
    normalize_instruction,
    parser_agreement,
    recorded_stage_records,
    table4_by_generator,
    table4_stats,
)

ALL = "ABCD"


# ---------------------------------------------------------------- parse_option
@pytest.mark.parametrize(
    ("completion", "allowed", "expected"),
    [
        ("Let's think. ... So the option is: C.", ALL, ("C", "verdict")),
        ("So, the option is A.", ALL, ("A", "verdict")),
        ("the option is: c.", ALL, ("C", "verdict")),
        ("The answer is (C)", ALL, ("C", "verdict")),
        ("## Answer\n**Option: D**", ALL, ("D", "verdict")),
        ("So the option is: **B**.###", ALL, ("B", "verdict")),
        ("I choose D because the instruction is complete.", ALL, ("D", "verdict")),
        ("The option is thus: C.", ALL, ("C", "verdict")),
        # The last verdict wins: the reply weighs B, then concludes C.
        ("The answer is B. Wait, on reflection the best option is C.", ALL, ("C", "verdict")),
        # A mention in the reasoning does not beat the verdict (real reply, Llama-3-8B idx 59).
        (
            "a suitable adaptation is to add a prefix task ... (Option C) helps ...\nSo the option is: B.",
            ALL,
            ("B", "verdict"),
        ),
        # Verdicts by name.
        ("For the given instruction, a suitable adaptation is to add a suffix task.", ALL, ("C", "verdict")),
        ("The best option for the given instruction is to decompose it into two tasks:", ALL, ("A", "verdict")),
        ("The answer is a prefix task that asks for a plan first.", ALL, ("B", "verdict")),
        ("The suitable option for the given instruction is A.", ALL, ("A", "verdict")),
        # Bare answers.
        ("B", ALL, ("B", "bare_letter")),
        ("B.", ALL, ("B", "bare_letter")),
        ("**B**", ALL, ("B", "bare_letter")),
        ("(c)", ALL, ("C", "bare_letter")),
        ("Option B", ALL, ("B", "bare_letter")),
        ("A.###", ALL, ("A", "bare_letter")),
        ("C. Add a suffix task.\n\nNew instruction: ...", ALL, ("C", "leading_letter")),
        ("This addition (Option B) prepares the user.", ALL, ("B", "option_mention")),
        # Fallbacks: never guessed.
        ("", ALL, ("D", "fallback:empty")),
        (None, ALL, ("D", "fallback:empty")),
        ("assistant", ALL, ("D", "fallback:no_option")),  # real Llama-3-70B reply
        ("Option A or Option B would both work.", ALL, ("D", "fallback:ambiguous")),
        ("A. Decompose it.\nB. Add a prefix task.\nC. Add a suffix task.", ALL, ("D", "fallback:no_option")),
        ("The instruction could be improved by adding a prefix task.", ALL, ("D", "fallback:no_option")),
        ("the answer is a good one", ALL, ("D", "fallback:no_option")),  # "a" is the article
        ("Rich in vitamin A. Also in vitamin C.", ALL, ("D", "fallback:no_option")),  # the authors' rule says A
        ("So the option is: A.", "BC", ("D", "fallback:not_allowed")),
        ("So the option is: D.", "BC", ("D", "fallback:not_allowed")),
    ],
)
def test_parse_option(completion, allowed, expected):
    assert parse_option(completion, allowed) == expected


# ---------------------------------------------------------------- parse_new_instruction
@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("Reasoning.\n#New Instruction#: “Do X, then Y.”###", ("Do X, then Y.", "ok")),
        ("# New Instruction #: Do X then Y ###", ("Do X then Y", "ok")),
        ("#new instruction#:Do X then Y.###\n###", ("Do X then Y.", "ok")),
        ('**#New Instruction#:** "Do X then Y."\n###', ("Do X then Y.", "ok")),
        (
            "#New Instruction#: “Identify the conflict and explain it.###”",
            ("Identify the conflict and explain it.", "ok"),
        ),
        ('#New Instruction#: "List causes." ###\n\nExplanation: the new instruction adds...', ("List causes.", "ok")),
        ('#New Instruction#: "Say hi." \n\nThis helps users. ###.', ("Say hi.", "ok")),  # quoted, then explanation
        ("Here is the #New Instruction#:\n\n#New Instruction#: Do X.###", ("Do X.", "ok")),
        (
            '#New Instruction#: The original asks for A.\n\n#New Instruction#: "Do A, then B." ###',
            ("Do A, then B.", "ok"),
        ),
        (
            '#New Instruction#: "Analyze the tone of "We must act". Then explain."###',
            ('Analyze the tone of "We must act". Then explain.', "ok"),
        ),
        ("#New Instruction#: Explain the students' choices###", ("Explain the students' choices", "ok")),
        ("#New Instruction#: “Unclosed quote, then more.###", ("Unclosed quote, then more.", "ok")),
        (
            "#New Instruction#: Premise: P.\n\nHypothesis: H. Is it true? Then explain.###",
            ("Premise: P.\n\nHypothesis: H. Is it true? Then explain.", "ok"),
        ),
        # No "###": the instruction ends at its closing quote or at the first blank line.
        (
            "#New Instruction#: “Do X then Y.”\n\nHere's the step-by-step thought process: ...",
            ("Do X then Y.", "unterminated"),
        ),
        ("#New Instruction#: Do X then Y.\n\nThis helps because ...", ("Do X then Y.", "unterminated")),
        ("New instruction: Do X, then Y.", ("Do X, then Y.", "unterminated")),
        # Failures.
        ("", (None, "fallback:empty")),
        (None, (None, "fallback:empty")),
        ("Sure, here is a better instruction: do X then Y.", (None, "fallback:no_marker")),
        ("#New Instruction#: ###", (None, "fallback:empty_instruction")),
    ],
)
def test_parse_new_instruction(completion, expected):
    assert parse_new_instruction(completion) == expected


ECHO = (
    "Here are my responses:\n#Original Instruction#: 'Describe an atom.'\n#New Instruction#: “List the parts, then "
    "describe them.”###\n\n#Original Instruction#: 'Count the sheep.'\n#New Instruction#: “Find the sheep, then "
    "count them.”###"
)


def test_parse_new_instruction_skips_replayed_examples():
    assert parse_new_instruction(ECHO, "Count the sheep.") == ("Find the sheep, then count them.", "echo")
    assert parse_new_instruction(ECHO) == ("Find the sheep, then count them.", "echo")  # the query comes last
    assert parse_new_instruction(ECHO, "Describe the French Revolution.") == (None, "fallback:echo_unmatched")


def test_unwrap_and_normalize():
    assert unwrap(" “Do X.” ") == "Do X."
    assert unwrap('"A" and "B"') == '"A" and "B"'  # quotes around parts, not around the whole
    assert unwrap("'Rome'") == "Rome"
    assert normalize_instruction("“Do   X,\n then Y.”") == "Do X, then Y."
    assert normalize_instruction(None) is None


# ---------------------------------------------------------------- prompt builders
def _user(messages):
    assert messages[-1]["role"] == "user"
    return messages[-1]["content"]


def test_option_prompt_offers_only_allowed_options():
    text = _user(build_option_messages("List three fruits.", "", allowed=["C", "B"], rng=0))
    assert "B. Prefix:" in text and "C. Suffix:" in text
    assert "A. Decompose" not in text and "D. Hold" not in text
    assert "So the option is: B." in text and "So the option is: C." in text
    assert "So the option is: A." not in text and "So the option is: D." not in text
    assert text.endswith("Instruction: List three fruits.\nReasoning:")
    full = build_option_messages("Sum the numbers.", "1, 2", rng=0)
    assert full[0]["role"] == "system" and all(f"So the option is: {o}." in _user(full) for o in ALL)
    assert _user(full).endswith("Instruction: Sum the numbers.\nInput: 1, 2\nReasoning:")


def test_prompt_shuffling_is_seeded():
    def order(seed):
        text = _user(build_option_messages("Do X.", rng=seed))
        return tuple(sorted(ALL, key=lambda o: text.index(f"So the option is: {o}.")))

    assert order(3) == order(3) == order(random.Random(3))
    assert len({order(seed) for seed in range(12)}) > 1  # the seed matters
    rewrite = [_user(build_rewrite_messages("Do X.", option="A", rng=s)) for s in range(8)]
    assert len(set(rewrite)) == 2 and rewrite[0] == _user(build_rewrite_messages("Do X.", option="A", rng=0))


def test_rewrite_and_response_prompts():
    text = _user(build_rewrite_messages("Sort the list.", "3, 1, 2", option="C", rng=1))
    assert "C. Suffix:" in text and "#New Instruction#: <the new instruction>###" in text
    assert text.endswith("#Original Instruction#: Sort the list.\n#Input#: 3, 1, 2\nReasoning:")
    with pytest.raises(ValueError, match="A, B and C only"):
        build_rewrite_messages("Do X.", option="D", rng=0)
    assert build_response_messages("Do X.", "data") == [{"role": "user", "content": "Do X.\n\ndata"}]
    with pytest.raises(ValueError, match="allowed_options"):
        check_options(["B", "E"])


# ---------------------------------------------------------------- the driver, with an offline deterministic LLM
def fake_llm(calls):
    """A deterministic stand-in for the LLM client: replies are chosen by keywords of the instruction."""

    def complete(batch):
        calls.append(batch)
        replies = []
        for messages in batch:
            text = messages[-1]["content"]
            instruction = text.rsplit("\n\n", 1)[-1].split("\n", 1)[0].split(": ", 1)[-1]
            if "Choose one of these options" in text:
                reply = {
                    "think": "So the option is: C.",
                    "fruit": "So the option is: **B**.",
                    "hi": "The answer is (D)",
                }
                reply |= {"count": "Not sure.", "colour": "Option C", "poem": "So the option is: A."}
                replies.append(next(v for k, v in reply.items() if k in instruction.lower()))
            elif text.startswith("Turn the original instruction"):
                new = (
                    "Name a colour."
                    if "colour" in instruction
                    else f"First think, then {instruction[0].lower()}{instruction[1:]}"
                )
                marker = "Sure: " if "colour" in instruction else "Idea.\n#New Instruction#: "
                replies.append(f"{marker}“{new}”###")
            else:  # the response request: instruction (+ "\n\n" + input)
                instruction = text.split("\n\n", 1)[0]
                replies.append("" if "poem" in instruction else f"answer to: {instruction}")
        return replies

    return complete


RECORDS = [
    {"id": "r0", "instruction": "List three fruits.", "input": "", "output": "apple, pear, fig"},
    {"id": "r1", "instruction": "Say hi.", "output": "hi"},
    {"id": "r2", "instruction": "Count to five.", "input": "", "output": "1 2 3 4 5"},
    {"id": "r3", "instruction": "Name a colour.", "input": "", "output": "red"},
    {"id": "r4", "instruction": "Write a poem.", "input": "about rain", "output": "..."},
]


def test_driver_provenance_and_fallbacks():
    calls = []
    records_by_iteration, summary = run_seq_instruct(RECORDS, fake_llm(calls), iterations=2, seed=7)
    assert [len(step) for step in records_by_iteration] == [5, 5]  # the number of examples never changes
    assert len(calls) == 6  # one batch per step (options, rewrites, responses) and iteration
    first = {r["source_id"]: r for r in records_by_iteration[0]}
    fruit = first["r0"]
    assert (fruit["id"], fruit["source_id"], fruit["iteration"]) == ("r0", "r0", 1)
    assert fruit["instruction"] == "First think, then list three fruits." and fruit["option"] == "B"
    assert fruit["parent_instruction"] == "List three fruits." and fruit["output"].startswith("answer to: First think")
    assert fruit["completions"]["option"] == "So the option is: **B**."
    assert fruit["completions"]["rewrite"].endswith("“First think, then list three fruits.”###")
    assert fruit["reasons"] == {"option": "verdict", "instruction": "ok", "response": "ok"}
    # D, unparseable option, missing marker and empty response all hold: instruction and output kept.
    for sid, proposed in (("r1", "D"), ("r2", "D"), ("r3", "C"), ("r4", "A")):
        held, source = first[sid], next(r for r in RECORDS if r["id"] == sid)
        assert (held["option"], held["proposed_option"]) == ("D", proposed)
        assert (held["instruction"], held["output"]) == (source["instruction"], source["output"])
    assert first["r2"]["reasons"]["option"] == "fallback:no_option"
    assert first["r3"]["reasons"]["instruction"] == "fallback:no_marker"
    assert first["r4"]["reasons"]["response"] == "fallback:empty" and first["r4"]["input"] == "about rain"
    # Iteration 2 starts from iteration 1's output.
    second = {r["source_id"]: r for r in records_by_iteration[1]}
    assert second["r0"]["parent_instruction"] == "First think, then list three fruits."
    assert second["r0"]["instruction"] == "First think, then first think, then list three fruits."
    assert second["r0"]["option"] == "C"
    assert summary["iterations"][0]["options"] == {"A": 0, "B": 1, "C": 0, "D": 4}
    assert summary["iterations"][0]["proposed_options"] == {"A": 1, "B": 1, "C": 1, "D": 2}
    assert summary["iterations"][0]["fallbacks"] == {
        "instruction:no_marker": 1,
        "option:no_option": 1,
        "response:empty": 1,
    }
    assert summary["fallbacks"]["option:no_option"] == 2 and summary["options"]["D"] == 8
    assert summary == summarize_run(records_by_iteration)


def test_driver_is_deterministic_and_restricts_options_per_iteration():
    calls_a, calls_b = [], []
    run_a = run_seq_instruct(RECORDS, fake_llm(calls_a), iterations=2, allowed_options=["ABC", "BC"], seed=1)
    run_b = run_seq_instruct(RECORDS, fake_llm(calls_b), iterations=2, allowed_options=["ABC", "BC"], seed=1)
    assert run_a == run_b and calls_a == calls_b
    option_prompts_2 = [_user(m) for m in calls_a[3]]
    assert all("A. Decompose" not in p and "D. Hold" not in p and "B. Prefix" in p for p in option_prompts_2)
    fallbacks = run_a.summary["fallbacks"]
    # D is not on offer: a D verdict counts as not allowed; "Write a poem." (A) is refused in iteration 2.
    assert fallbacks["option:not_allowed"] == 3  # r1 in both iterations, r4 in iteration 2
    calls_c = []
    run_seq_instruct(RECORDS, fake_llm(calls_c), iterations=2, allowed_options=["ABC", "BC"], seed=2)
    assert calls_c[0] != calls_a[0]  # another seed shuffles the few-shot examples differently


def test_driver_uniform_choice_and_errors():
    calls = []
    run = run_seq_instruct(RECORDS, fake_llm(calls), iterations=1, allowed_options="ABC", seed=0, choose="uniform")
    assert len(calls) == 2  # no option requests: SeqEval samples the option (§3)
    assert all(
        r["reasons"]["option"] == "given" and r["proposed_option"] in "ABC" for r in run.records_by_iteration[0]
    )
    assert run == run_seq_instruct(
        RECORDS, fake_llm([]), iterations=1, allowed_options="ABC", seed=0, choose="uniform"
    )
    with pytest.raises(ValueError, match="2 sets for 3 iterations"):
        run_seq_instruct(RECORDS, fake_llm([]), iterations=3, allowed_options=["ABC", "BC"])
    with pytest.raises(ValueError, match="choose"):
        run_seq_instruct(RECORDS, fake_llm([]), choose="random")
    with pytest.raises(ValueError, match="returned 1 replies for 5 option requests"):
        run_seq_instruct(RECORDS, lambda batch: ["A"], iterations=1)


def test_step_with_given_options_and_result_objects():
    class Result:  # the shape of `seqit_utils.llm.client.Result`: text None on a failed request
        def __init__(self, text):
            self.text = text

    def complete(batch):
        queries = [_user(m).rsplit("\n\n", 1)[-1] for m in batch]
        return [None if "poem" in q else Result(r) for q, r in zip(queries, fake_llm([])(batch), strict=True)]

    step = seq_instruct_step(RECORDS, complete, iteration=3, seed=0, options=["C", "B", "D", "A", "C"])
    assert [r["id"] for r in step] == [r["id"] for r in RECORDS] and {r["iteration"] for r in step} == {3}
    assert [r["proposed_option"] for r in step] == ["C", "B", "D", "A", "C"]
    assert [r["option"] for r in step] == ["C", "B", "D", "D", "D"]
    assert step[0]["completions"]["option"] is None and step[0]["reasons"]["option"] == "given"
    assert step[4]["reasons"]["instruction"] == "fallback:empty"  # the failed request (text None)
    with pytest.raises(ValueError, match="one of A, B, C, D per record"):
        seq_instruct_step(RECORDS, complete, options=["C"])


def test_table4_stats_on_a_run():
    run = run_seq_instruct(RECORDS, fake_llm([]), iterations=2, seed=7)
    stats = table4_stats(run.records_by_iteration, str.split)
    assert stats["tokenizer"] == "split"
    one = stats["iterations"][1]
    # Iteration 1 instructions + inputs, whitespace tokens: 6 + 2 + 3 + 3 + (3 + 2) = 19 over 5 records.
    assert one["avg_input_tokens"] == pytest.approx(19 / 5) and one["avg_instruction_tokens"] == pytest.approx(17 / 5)
    # Outputs: "answer to: First think, then list three fruits." (8), "hi", "1 2 3 4 5", "red", "...".
    assert one["avg_output_tokens"] == pytest.approx((8 + 1 + 5 + 1 + 1) / 5) and one["n_output"] == 5
    assert one["option_share"] == {"A": 0.0, "B": 0.2, "C": 0.0, "D": 0.8}
    assert set(stats["iterations"]) == {1, 2}


# ---------------------------------------------------------------- the authors' recorded outputs (real data)
SAMPLES = "seqit_selfseq_samples/alpaca"
# file -> (n, option agreement, n_instruction, instruction agreement), measured with this module's parsers.
AGREEMENT = {
    "Meta-Llama-3-70B-Instruct-generate_instruct-refine": (100, 1.0, 0, None),
    "Meta-Llama-3-70B-Instruct-generate_instruct-refine-response": (100, 1.0, 0, None),
    "Meta-Llama-3-70B-Instruct-generate_instruct-refine-response-final": (100, 1.0, 0, None),
    "Meta-Llama-3-8B-Instruct": (100, 0.99, 0, None),
    "Meta-Llama-3-8B-Instruct-generate_instruct": (100, 0.99, 100, 0.89),
    "Meta-Llama-3-8B-Instruct-generate_instruct-refine": (100, 0.99, 100, 0.89),
    "Meta-Llama-3-8B-Instruct-generate_instruct-refine-response": (100, 0.99, 100, 0.89),
    "Meta-Llama-3-8B-Instruct-generate_instruct-refine-response-final": (100, 0.99, 100, 0.89),
    "c4ai-command-r-plus": (100, 1.0, 0, None),
    "c4ai-command-r-plus-generate_instruct": (100, 1.0, 57, 24 / 57),
    "c4ai-command-r-plus-generate_instruct-refine": (100, 1.0, 57, 24 / 57),
    "c4ai-command-r-plus-generate_instruct-refine-response": (100, 1.0, 57, 24 / 57),
    "c4ai-command-r-plus-generate_instruct-refine-response-final": (100, 1.0, 57, 24 / 57),
    "c4ai-command-r-v01": (100, 0.98, 0, None),
    "c4ai-command-r-v01-generate_instruct": (100, 0.98, 82, 76 / 82),
    "c4ai-command-r-v01-generate_instruct-refine": (100, 0.98, 82, 76 / 82),
    "gpt-3.5-turbo": (100, 1.0, 0, None),
    "gpt-3.5-turbo-generate_instruct": (100, 1.0, 95, 93 / 95),
    "gpt-3.5-turbo-generate_instruct-refine": (100, 1.0, 95, 93 / 95),
    "gpt-3.5-turbo-generate_instruct-refine-response": (100, 1.0, 95, 93 / 95),
    "gpt-3.5-turbo-generate_instruct-refine-response-final": (100, 1.0, 95, 93 / 95),
    "gpt-4-turbo": (100, 1.0, 0, None),
    "gpt-4-turbo-generate_instruct": (100, 1.0, 63, 1.0),
    "gpt-4-turbo-generate_instruct-refine": (100, 1.0, 63, 1.0),
}


@pytest.fixture(scope="module")
def agreement(shared_data):
    return agreement_by_file(data_dir=shared_data)


def _rows(shared_data, name):
    return [json.loads(line) for line in (shared_data / SAMPLES / f"{name}.jsonl").read_text("utf-8").splitlines()]


def test_parser_agreement_on_every_recorded_file(agreement, shared_data):
    assert sorted(agreement) == sorted(f"alpaca-cleaned-{name}.jsonl" for name in AGREEMENT)
    for name, (n, option, n_instruction, instruction) in AGREEMENT.items():
        result, rows = agreement[f"alpaca-cleaned-{name}.jsonl"], _rows(shared_data, f"alpaca-cleaned-{name}")
        assert result["n"] == n == len(rows), name
        assert result["n_instruction"] == n_instruction == sum("extracted_instruction" in r for r in rows), name
        assert result["option_agreement"] == pytest.approx(option, abs=0.005), name
        if instruction is None:
            assert result["instruction_agreement"] is None, name
        else:
            assert result["instruction_agreement"] == pytest.approx(instruction, abs=0.005), name
        assert sum(result["options_ours"].values()) == sum(result["options_authors"].values()) == n


def test_known_disagreements(agreement, shared_data):
    llama = agreement["alpaca-cleaned-Meta-Llama-3-8B-Instruct-generate_instruct.jsonl"]
    assert llama["option_disagreements"] == [59]  # "(Option C)" mention vs "So the option is: B." (ours: B)
    assert llama["instruction_reasons"] == {"echo": 2, "ok": 92, "unterminated": 6}
    command_r = agreement["alpaca-cleaned-c4ai-command-r-v01.jsonl"]
    assert command_r["option_disagreements"] == [49, 64]  # no verdict; the authors matched "prefix task"/"decompose"
    assert command_r["option_reasons"]["fallback:no_option"] == 2
    rows = {r["idx"]: r for r in _rows(shared_data, "alpaca-cleaned-Meta-Llama-3-8B-Instruct-generate_instruct")}
    replayed = rows[65]  # the reply re-answers the three few-shot examples before the real query
    new, reason = parse_new_instruction(replayed["new_instruction"], replayed["instruction"])
    assert reason == "echo" and new.startswith("Identify the verb in the sentence")
    assert replayed["extracted_instruction"].startswith("“Define what a tweet is")  # the authors took example 1


def test_parser_agreement_counts_by_hand():
    records = [
        {"idx": 0, "completions": "So the option is: B.", "option": "B", "instruction": "X.",
         "new_instruction": "#New Instruction#: “First Y, then X.”###", "extracted_instruction": "“First Y, then X.”"},
        {"idx": 1, "completions": "Option A", "option": "C", "instruction": "Z.",
         "new_instruction": "#New Instruction#: Do Z.###\nNote.", "extracted_instruction": "Do Z.###\nNote."},
        {"idx": 2, "completions": "So the option is: D.", "option": "D", "instruction": "W.", "new_instruction": "W."},
    ]  # fmt: skip
    result = parser_agreement(records)
    assert (result["n"], result["option_agreement"], result["option_disagreements"]) == (3, 2 / 3, [1])
    assert (result["n_instruction"], result["instruction_agreement"]) == (2, 0.5)
    assert result["instruction_disagreements"] == [1]


# Table 4 on the recorded files (authors' extractions), MiniLM WordPiece tokens:
# (generator, stage) -> (avg input tokens, avg instruction tokens, avg output tokens, n_output, option shares A-D)
TABLE4 = {
    ("Meta-Llama-3-70B-Instruct", "generate_instruct-refine"): (19.42, 12.27, None, 0, (0.0, 0.0, 0.0, 1.0)),
    ("Meta-Llama-3-8B-Instruct", ""): (19.42, 12.27, None, 0, (0.31, 0.68, 0.01, 0.0)),
    ("Meta-Llama-3-8B-Instruct", "generate_instruct"): (61.23, 54.08, None, 0, (0.31, 0.68, 0.01, 0.0)),
    ("Meta-Llama-3-8B-Instruct", "generate_instruct-refine-response-final"): (
        92.51,
        85.36,
        165.15,
        34,
        (0.31, 0.68, 0.01, 0.0),
    ),
    ("c4ai-command-r-plus", "generate_instruct"): (83.09, 75.94, None, 0, (0.03, 0.23, 0.31, 0.43)),
    ("c4ai-command-r-plus", "generate_instruct-refine-response-final"): (
        53.78,
        46.63,
        525.29,
        38,
        (0.03, 0.23, 0.31, 0.43),
    ),
    ("c4ai-command-r-v01", "generate_instruct"): (50.39, 43.24, None, 0, (0.13, 0.47, 0.22, 0.18)),
    ("gpt-3.5-turbo", "generate_instruct"): (39.71, 32.56, None, 0, (0.18, 0.15, 0.62, 0.05)),
    ("gpt-3.5-turbo", "generate_instruct-refine-response-final"): (38.31, 31.16, 236.84, 64, (0.18, 0.15, 0.62, 0.05)),
    ("gpt-4-turbo", ""): (19.42, 12.27, None, 0, (0.0, 0.15, 0.48, 0.37)),
    ("gpt-4-turbo", "generate_instruct"): (32.65, 25.50, None, 0, (0.0, 0.15, 0.48, 0.37)),
}


@pytest.fixture(scope="module")
def table4(shared_data):
    return table4_by_generator(data_dir=shared_data)


def test_table4_on_recorded_files(table4):
    assert sorted(table4) == sorted({g for g, _ in TABLE4} | {"c4ai-command-r-v01"})
    assert list(table4["gpt-3.5-turbo"]["iterations"]) == [
        "",
        "generate_instruct",
        "generate_instruct-refine",
        "generate_instruct-refine-response",
        "generate_instruct-refine-response-final",
    ]
    for (generator, stage), (avg_in, avg_instruction, avg_out, n_out, shares) in TABLE4.items():
        stats = table4[generator]
        assert stats["tokenizer"] == MINILM_TOKENIZER
        row = stats["iterations"][stage]
        assert row["n"] == 100
        assert row["avg_input_tokens"] == pytest.approx(avg_in, abs=0.01), (generator, stage)
        assert row["avg_instruction_tokens"] == pytest.approx(avg_instruction, abs=0.01), (generator, stage)
        assert row["avg_output_tokens"] == (avg_out and pytest.approx(avg_out, abs=0.01)), (generator, stage)
        assert row["n_output"] == n_out
        assert tuple(row["option_share"].values()) == pytest.approx(shares, abs=1e-9), (generator, stage)


def test_recorded_stage_records_with_our_parsers(shared_data):
    from seqit_utils.data.author_loaders import load_selfseq_samples

    name = "alpaca-cleaned-c4ai-command-r-plus-generate_instruct"
    records = load_selfseq_samples(name=name, data_dir=shared_data)
    ours, theirs = (recorded_stage_records(records, "generate_instruct", e) for e in ("ours", "authors"))
    assert len(ours) == len(theirs) == 100
    # Their extraction keeps the explanation written after "###" (idx 1); ours stops at the marker's end.
    assert "Explanation:" in theirs[[r["idx"] for r in records].index(1)]["instruction"]
    assert not any("Explanation:" in r["instruction"] for r in ours)
    assert sum(r["option"] == "D" for r in ours) == 44  # 43 D + 1 reply that never answered its query
    with pytest.raises(ValueError, match="no refinement step"):
        recorded_stage_records(records, "generate_instruct-refine", "ours")


def _recording(folder, name, rows):
    """A recording in the authors' layout (`seqit_selfseq_samples/flancot/<name>.jsonl`), written by the test."""
    path = folder / "seqit_selfseq_samples" / "flancot" / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def _whitespace_tokens(text):
    return text.split()


def test_table4_reads_flancot_names_and_counts_duplicate_idx(tmp_path):
    rows = [{"idx": i, "instruction": "Add the numbers.", "input": "1 2", "completions": "B", "option": "B",
             "final_instruction": f"First repeat the input, then add the numbers ({k})."}
            for i in range(2) for k in range(3)]  # fmt: skip
    _recording(tmp_path, "flancot_filtered_15k-Meta-Llama-3-70B-Instruct-generate_instruct-refine-final", rows)
    _recording(
        tmp_path, "flancot_filtered_15k-Meta-Llama-3-70B-Instruct", [{**r, "idx": i} for i, r in enumerate(rows)]
    )
    stats = table4_by_generator(data_dir=tmp_path, subset="flancot", tokenizer=_whitespace_tokens)
    assert list(stats) == ["Meta-Llama-3-70B-Instruct"]
    final = stats["Meta-Llama-3-70B-Instruct"]["iterations"]["generate_instruct-refine-final"]
    assert final["n"] == 6 and final["n_duplicate_idx"] == 6  # all kept, all marked
    assert final["avg_instruction_tokens"] == 9.0  # the final_instruction field: "First repeat … (k)." (9 words)
    assert stats["Meta-Llama-3-70B-Instruct"]["iterations"][""]["n_duplicate_idx"] == 0


def test_table4_fails_naming_a_recording_whose_generator_or_stage_cannot_be_read(tmp_path):
    row = {"idx": 0, "instruction": "Add the numbers.", "input": "1 2", "completions": "B", "option": "B"}
    _recording(tmp_path, "flancot_filtered_15k-gpt-4-turbo-generate_instruct-rewrite", [row])
    with pytest.raises(ValueError, match=r"flancot_filtered_15k-gpt-4-turbo-generate_instruct-rewrite\.jsonl.*stage"):
        table4_by_generator(data_dir=tmp_path, subset="flancot", tokenizer=_whitespace_tokens)
    (
        tmp_path / "seqit_selfseq_samples/flancot/flancot_filtered_15k-gpt-4-turbo-generate_instruct-rewrite.jsonl"
    ).unlink()
    _recording(tmp_path, "selfseq_run", [row])  # no <source>-<generator> form
    with pytest.raises(ValueError, match=r"selfseq_run\.jsonl.*generator"):
        table4_by_generator(data_dir=tmp_path, subset="flancot", tokenizer=_whitespace_tokens)


def test_table4_on_a_folder_without_recordings_is_an_error_not_empty(tmp_path):
    _recording(tmp_path, "flancot_20", [{"instruction": "Add.", "input": "1 2", "output": "3"}])  # a source sample
    with pytest.raises(ValueError, match="no Seq-Instruct recording"):
        table4_by_generator(data_dir=tmp_path, subset="flancot", tokenizer=_whitespace_tokens)
