"""LLM judge (App. B.5): prompt builders, tolerant parsers, Score / Follow aggregation, both-order win rate."""

from __future__ import annotations

import pytest

from seqit_utils.data.loaders import load_alpaca_eval, load_seqeval
from seqit_utils.evaluate.judge import (
    EMPTY,
    MALFORMED,
    NO_VERDICT,
    NOT_INTEGER,
    OUT_OF_RANGE,
    Preference,
    Verdict,
    combine_orders,
    judge_single,
    pairwise_messages,
    parse_preference,
    parse_verdict,
    single_messages,
    summarize,
    summarize_by,
    win_rate,
)


@pytest.mark.parametrize(
    ("reply", "answered", "rating"),
    [
        ("[[Yes, 4]]", True, 4),
        ("[[yes,4]]", True, 4),
        ("[[No, 2]]", False, 2),
        ("[[  NO ,   1  ]]", False, 1),
        ("Rating: [[Yes, 5]]", True, 5),
        ("The response covers both parts.\n\n**[[Yes, 3]]**\n", True, 3),
        ("[[**Yes**, 4]]", True, 4),
        ("[[Yes; 4]]", True, 4),
        ("[[Yes, rating: 2]]", True, 2),
        ("[[Yes, 4.0]]", True, 4),
        ("[[[Yes, 4]]]", True, 4),
        ("Format: [[answered, rating]]. My verdict: [[No, 3]]", False, 3),  # the quoted format is not a verdict
        # Issue 17: the first well-formed verdict wins; what follows is a format reminder or code, not a revision.
        ("The first part is skipped.\n[[No, 2]]\n\nRemember to answer in the form [[Yes, 5]] or [[No, 1]].", False, 2),
        ("Verdict: [[Yes, 3]]\n```python\nprint(grid[[0]])\nassert rows == [[No, 1]]\n```", True, 3),
        # Issue 17: verdict shapes real judges write.
        ("The response answers both parts.\n[[Yes, 4.]]", True, 4),
        ("Both tasks are addressed.\n[[Yes, 4 out of 5]]", True, 4),
        ("[[Yes, 4/5]]", True, 4),
        ("两个部分都回答了。\n[[Yes，4]]", True, 4),  # full-width comma
        ("Complete and correct.\n[[Yes-4]]", True, 4),  # a dash separates the fields: 4, not -4
        ("[[No – 2]]", False, 2),
        ("an unclosed [[ here, then [[Yes, 4]]", True, 4),
        ("[[Yes,\n 4]]", True, 4),
    ],
)
def test_parse_verdict_accepts(reply, answered, rating):
    verdict = parse_verdict(reply)
    assert (verdict.answered, verdict.rating, verdict.reason) == (answered, rating, None)
    assert verdict.ok and verdict.reply == reply


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("", EMPTY),
        ("  \n", EMPTY),
        ("Yes, 4", NO_VERDICT),
        ("[Yes, 4]", NO_VERDICT),
        ("[[Yes, 4]", NO_VERDICT),
        ("[[Yes]]", MALFORMED),
        ("[[answered, rating]]", MALFORMED),
        ("[[Maybe, 3]]", MALFORMED),
        ("[[Yes, four]]", MALFORMED),
        ("[[Not, 3]]", MALFORMED),
        ("[[Yes, 6]]", OUT_OF_RANGE),
        ("[[No, 0]]", OUT_OF_RANGE),
        ("[[Yes, -1]]", MALFORMED),  # a rating is never negative: "-" before it is no separator here
        ("[[Yes, 10]]", OUT_OF_RANGE),
        ("[[Yes, 4.5]]", NOT_INTEGER),
        ("[[Yes, 7]] ... on reflection [[Yes, 4]]", OUT_OF_RANGE),  # no fall-back to a later verdict
    ],
)
def test_parse_verdict_rejects_with_a_reason(reply, reason):
    verdict = parse_verdict(reply)
    assert (verdict.answered, verdict.rating, verdict.reason, verdict.ok) == (None, None, reason, False)


@pytest.mark.parametrize(
    ("reply", "choice", "reason"),
    [
        ("[[A]]", "A", None),
        ("Response B is clearer. [[b]]", "B", None),
        ("[[ Tie ]]", "tie", None),
        ("[[TIE]]", "tie", None),
        ("I first thought [[A]] but in the end [[B]]", "B", None),
        ("Verdict: **[[A]]**", "A", None),
        ("Use [[A]], [[B]] or [[tie]] ... final: [[A]]", "A", None),
        ("[[C]]", None, MALFORMED),
        ("[[A or B]]", None, MALFORMED),
        ("A is better", None, NO_VERDICT),
        ("", None, EMPTY),
    ],
)
def test_parse_preference(reply, choice, reason):
    assert parse_preference(reply) == Preference(choice, reason, reply)


def test_prompts_are_openai_messages_with_the_format_and_the_texts():
    messages = single_messages("First list three fruits, then sort them.", "apple, banana, cherry")
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert "[[answered, rating]]" in user and "1 to 5" in user
    assert "First list three fruits, then sort them." in user and "apple, banana, cherry" in user
    assert "{instruction}" not in user and "{response}" not in user
    braces = single_messages("Format {name} as JSON", "{}")[1]["content"]
    assert "Format {name} as JSON" in braces  # texts are inserted verbatim, never formatted
    pair = pairwise_messages("Q?", "answer one", "answer two")[1]["content"]
    assert pair.index("answer one") < pair.index("answer two")
    assert all(v in pair for v in ("[[A]]", "[[B]]", "[[tie]]"))


def test_judge_single_batches_and_parses():
    seen = []

    def complete(requests):
        seen.append(len(requests))
        return ["[[Yes, 5]]" if "good" in r[1]["content"] else "no idea" for r in requests]

    verdicts = judge_single(["a", "b", "c"], ["good answer", "bad", "good too"], complete)
    assert seen == [3]  # one batch call
    parsed = [(v.answered, v.rating, v.reason) for v in verdicts]
    assert parsed == [(True, 5, None), (None, None, NO_VERDICT), (True, 5, None)]
    with pytest.raises(ValueError, match="returned 1 replies for 3"):
        judge_single(["a", "b", "c"], ["x", "y", "z"], lambda requests: ["[[Yes, 5]]"])
    with pytest.raises(ValueError, match="differ in length"):
        judge_single(["a"], [], complete)


def test_summarize_hand_made_verdicts():
    replies = ["[[Yes, 5]]", "[[Yes, 4]]", "[[No, 2]]", "[[No, 1]]", "[[Yes, 3]]", "[[Yes, 9]]", "nothing", ""]
    summary = summarize([parse_verdict(r) for r in replies])
    assert summary == {
        "n": 8,
        "n_parsed": 5,
        "n_unparseable": 3,
        "unparseable_reasons": {EMPTY: 1, NO_VERDICT: 1, OUT_OF_RANGE: 1},
        "score": pytest.approx(15 / 5),
        "follow_rate": pytest.approx(3 / 5),
    }
    assert summarize([])["score"] is None and summarize([Verdict(None, None, EMPTY)])["follow_rate"] is None


def test_per_iteration_breakdown_on_real_seqeval_iterations(shared_data):
    iterations = [r["iteration"] for r in load_seqeval(data_dir=shared_data)]
    # A hand-made judge: answers everything up to 2 rounds, misses a part from round 3 on; rating 6 - round.
    verdicts = [Verdict(k <= 2, 6 - k) for k in iterations]
    table = summarize_by(verdicts, iterations)
    assert list(table) == [1, 2, 3, 4]
    assert [table[k]["n"] for k in table] == [81, 161, 242, 321]
    assert [table[k]["follow_rate"] for k in table] == [1.0, 1.0, 0.0, 0.0]
    assert [table[k]["score"] for k in table] == [5.0, 4.0, 3.0, 2.0]
    assert summarize(verdicts)["follow_rate"] == pytest.approx(242 / 805)
    with pytest.raises(ValueError, match="differ in length"):
        summarize_by(verdicts, iterations[:-1])


@pytest.mark.parametrize(
    ("first", "second", "outcome"),
    [("A", "B", "win"), ("B", "A", "loss"), ("A", "A", "inconsistent"), ("B", "B", "inconsistent")]
    + [("tie", "tie", "tie"), ("A", "tie", "tie"), ("tie", "A", "tie"), ("B", "tie", "tie")],
)
def test_combine_orders(first, second, outcome):
    assert combine_orders(Preference(first), Preference(second)) == (outcome, None)


def test_combine_orders_unparseable():
    assert combine_orders(Preference("A"), Preference(None, MALFORMED)) == (None, f"model as B: {MALFORMED}")


@pytest.fixture(scope="module")
def alpaca_pairs(shared_data):
    """The recorded text-davinci-003 outputs as 'model' vs GPT-4-Turbo's as reference (record i: same query)."""
    model = load_alpaca_eval(generator="text_davinci_003", data_dir=shared_data, limit=40)
    reference = load_alpaca_eval(generator="gpt4_1106_preview", data_dir=shared_data, limit=40)
    assert [m["instruction"] for m in model] == [r["instruction"] for r in reference]
    return [m["instruction"] for m in model], [m["output"] for m in model], [r["output"] for r in reference]


def _slot(request, letter):
    content = request[1]["content"]
    start = content.index(f"### Response {letter}\n") + len(f"### Response {letter}\n")
    end = content.index("\n\n### ", start)
    return content[start:end]


def test_win_rate_position_biased_judge_gives_one_half(alpaca_pairs):
    result = win_rate(*alpaca_pairs, lambda requests: ["[[A]]"] * len(requests))
    assert result["win_rate"] == 0.5
    counts = [result[key] for key in ("n", "n_scored", "inconsistent", "wins", "losses", "ties")]
    assert counts == [40, 40, 40, 0, 0, 0]


def test_win_rate_judge_preferring_the_model_gives_one(alpaca_pairs):
    instructions, outputs, references = alpaca_pairs
    model_texts = {o.strip() for o in outputs}

    def prefers_model(requests):
        return ["[[A]]" if _slot(r, "A") in model_texts else "[[B]]" for r in requests]

    result = win_rate(instructions, outputs, references, prefers_model)
    assert (result["win_rate"], result["wins"], result["n_scored"]) == (1.0, 40, 40)
    swapped = win_rate(instructions, references, outputs, prefers_model)  # now the judge prefers the reference
    assert (swapped["win_rate"], swapped["losses"]) == (0.0, 40)


def test_win_rate_counts_mixed_and_unparseable():
    instructions, outputs, references = ["q1", "q2", "q3", "q4"], ["m1", "m2", "m3", "m4"], ["r1", "r2", "r3", "r4"]
    # model-as-A replies for q1..q4, then model-as-B replies for q1..q4
    replies = ["[[A]]", "[[tie]]", "[[B]]", "[[A]]"] + ["[[B]]", "[[tie]]", "[[A]]", "garbled"]
    result = win_rate(instructions, outputs, references, lambda requests: list(replies))
    assert result["outcomes"] == ["win", "tie", "loss", None]
    assert result["win_rate"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert (result["wins"], result["ties"], result["losses"], result["n_unparseable"]) == (1, 1, 1, 1)
    assert result["unparseable_reasons"] == {f"model as B: {NO_VERDICT}": 1}
    assert win_rate([], [], [], lambda requests: [])["win_rate"] is None
