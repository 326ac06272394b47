"""Tests for seqit_utils.multimodal.vqa_eval: hand-checked VQAv2 accuracy and normalisation (the official
GT-Vision-Lab rules),
GQA exact match, answer extraction, the caption-then-answer following rate and `score_vqa`.

No VQAv2/GQA file is in ../shared/data, so the records here are hand-written in the published shapes."""

from __future__ import annotations

import pytest

from seqit_utils.multimodal.vqa_eval import (
    CONTRACTIONS,
    extract_answer,
    follows,
    gqa_exact_match,
    normalize_answer,
    score_vqa,
    vqa_accuracy,
)


def answers(k: int, match: str = "2", other: str = "3") -> list[str]:
    """Ten human answers, `k` of them `match`."""
    return [match] * k + [other] * (10 - k)


# ---------------------------------------------------------------- normalize_answer
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Two", "2"),  # number words → digits
        ("none", "0"),
        ("ten", "10"),
        ("eleven", "eleven"),  # the official map stops at ten
        ("a dog", "dog"),  # articles dropped
        ("The Dog", "dog"),
        ("an apple", "apple"),
        ("dont", "don't"),  # contractions restored
        ("isnt", "isn't"),
        ("couldnt've", "couldn't've"),
        ("Im", "im"),  # the official table's capitalised keys never match after lower-casing
        ("somebody'd", "somebodyd"),  # the official table's one backwards entry
        ("don't", "don't"),  # "'" is not in the punctuation list
        ("12:30", "12:30"),  # nor is ":"
        ("yes.", "yes"),  # periods go unless a digit follows
        ("3.5", "3.5"),
        ("5.", "5"),
        ("u.s.a.", "usa"),
        ("yes!", "yes"),  # "!" not touching a space → space, then whitespace collapses
        ("1,000", "1000"),  # comma between digits → removed
        ("red,blue", "red blue"),  # no space around, no digit comma → replaced by a space
        ("red, blue", "red blue"),  # touching a space → removed
        ("t-shirt", "t shirt"),
        ("t-shirt 1,000", "tshirt 1000"),  # a digit comma anywhere switches every punctuation mark to removal
        ("\tyes\n", "yes"),  # newlines/tabs → spaces, stripped
        ("two\ndogs", "2 dogs"),
    ],
)
def test_normalize_answer_official_rules(text, expected):
    assert normalize_answer(text) == expected


def test_normalize_answer_removes_at_most_32_periods():
    # the official call passes re.UNICODE (= 32) as `count` to re.sub: the 33rd period onwards stays
    assert normalize_answer("x" + "." * 40) == "x" + "." * 8


def test_contractions_table_shape():
    # keys are the contracted form with one apostrophe left out (official table: 120 keys, 6 unreachable or no-ops)
    assert len(CONTRACTIONS) == 114
    assert CONTRACTIONS["couldn'tve"] == CONTRACTIONS["couldnt've"] == "couldn't've"
    assert CONTRACTIONS["'ows'at"] == CONTRACTIONS["ow's'at"] == CONTRACTIONS["'ow'sat"] == "'ow's'at"
    assert CONTRACTIONS["twas"] == "'twas"
    assert "couldntve" not in CONTRACTIONS and "shed" not in CONTRACTIONS  # "shed" is a word


# ---------------------------------------------------------------- vqa_accuracy
@pytest.mark.parametrize(
    ("k", "expected"),
    [
        # k matching answers of 10: (k * min(1, (k-1)/3) + (10-k) * min(1, k/3)) / 10
        (0, 0.0),
        (1, 0.3),  # (1*0 + 9*(1/3)) / 10
        (2, 0.6),  # (2*(1/3) + 8*(2/3)) / 10 = (2/3 + 16/3) / 10 = 6/10 (not 2/3)
        (3, 0.9),  # (3*(2/3) + 7*1) / 10 = 9/10 (not 1: with one of the three left out only 2 remain)
        (4, 1.0),  # (4*1 + 6*1) / 10
        (9, 1.0),
    ],
)
def test_vqa_accuracy_leave_one_annotator_out(k, expected):
    assert vqa_accuracy("2", answers(k)) == pytest.approx(expected)


def test_vqa_accuracy_normalises_when_annotators_disagree():
    assert vqa_accuracy("Two", answers(3)) == pytest.approx(0.9)
    assert vqa_accuracy("Two", answers(4)) == 1.0
    assert vqa_accuracy("a dog", answers(9, "dog", "puppy")) == 1.0
    assert vqa_accuracy("Yes.", answers(5, "yes", "no")) == 1.0
    assert vqa_accuracy("dont know", answers(4, "don't know", "no")) == 1.0
    # the human answers get digit/article processing too (older revisions and LAVIS: punctuation only → 0.0)
    assert vqa_accuracy("dog", answers(4, "the dog", "cat")) == 1.0


def test_vqa_accuracy_leaves_unanimous_answers_unprocessed():
    # official master: with ten identical answers nothing but newline/tab/strip is applied, to either side
    assert vqa_accuracy("dog", ["dog"] * 10) == 1.0
    assert vqa_accuracy(" dog\n", ["dog"] * 10) == 1.0
    assert vqa_accuracy("a dog", ["dog"] * 10) == 0.0
    assert vqa_accuracy("Dog", ["dog"] * 10) == 0.0
    # "two" against ten "two": a normalised prediction ("2") would miss the raw answers; unprocessed it matches
    assert vqa_accuracy("two", ["two"] * 10) == 1.0
    # the agreement test runs after stripping: "dog " equals "dog", so still unanimous and unprocessed
    assert vqa_accuracy("Dog", ["dog"] * 9 + ["dog "]) == 0.0


def test_vqa_accuracy_needs_answers():
    with pytest.raises(ValueError, match="human answers"):
        vqa_accuracy("dog", [])


# ---------------------------------------------------------------- gqa_exact_match
def test_gqa_exact_match():
    assert gqa_exact_match("The table.", "table") == 1.0
    assert gqa_exact_match("Two", "2") == 1.0
    assert gqa_exact_match("chair", "table") == 0.0
    assert gqa_exact_match("tables", "table") == 0.0
    # normalised on both sides: gold "none" → "0" still matches (LAVIS normalises the prediction only → 0.0)
    assert gqa_exact_match("none", "none") == 1.0


# ---------------------------------------------------------------- extract_answer / follows
@pytest.mark.parametrize(
    ("text", "answer", "followed"),
    [
        ("red", "red", False),  # IT format: the answer alone
        ("  red \n", "red", False),
        ("A red bus parked on a street.\nred", "red", True),  # SIT format: caption, newline, answer
        ("A red bus parked on a street.\n\n  red  \n", "red", True),
        ("A red bus on a street. Answer: Red", "Red", True),
        ("Caption: a bus.\nanswer: yes", "yes", True),  # any case
        ("Answer: red", "red", False),  # nothing before the answer
        ("  \nAnswer: red", "red", False),
        ("The answer: is not here. Answer: no", "no", True),  # the last "Answer:"
        ("A bus.\nAnswer:", "", True),
        ("", "", False),
    ],
)
def test_extract_answer_and_follows(text, answer, followed):
    assert extract_answer(text) == answer
    assert follows(text) is followed


# ---------------------------------------------------------------- score_vqa
def test_score_vqa_mixed_split():
    records = [
        {"id": "vqa/1", "answers": answers(3)},  # VQAv2
        {"id": "gqa/1", "answer": "table"},  # GQA
        {"id": "vqa/2", "answers": answers(5, "yes", "no")},
        {"id": "vqa/3", "answers": ["dog"] * 10},
    ]
    generations = [
        "Two dogs lying on the grass.\nTwo",  # SIT, "Two" → "2": 0.9
        "table",  # IT: 1.0
        "A man holding an umbrella.\nAnswer: No.",  # "No." → "no": 5 matches → 1.0
        "A dog on a sofa.\nA dog",  # unanimous answers are not normalised: "A dog" ≠ "dog" → 0.0
    ]
    result = score_vqa(generations, records)
    assert result["n"] == 4
    assert result["per_item"] == pytest.approx([0.9, 1.0, 1.0, 0.0])
    assert result["accuracy"] == pytest.approx(2.9 / 4)
    assert result["following"] == pytest.approx(3 / 4)


def test_score_vqa_empty_split():
    assert score_vqa([], []) == {"n": 0, "accuracy": None, "following": None, "per_item": []}


def test_score_vqa_errors():
    with pytest.raises(ValueError, match="2 generations for 1 records"):
        score_vqa(["a", "b"], [{"answer": "a"}])
    with pytest.raises(ValueError, match=r"record 'q7' \(index 1\): has neither field 'answers'.*nor 'answer'"):
        score_vqa(["a", "b"], [{"answer": "a"}, {"id": "q7", "question": "What?"}])
    with pytest.raises(ValueError, match=r"record 1: has neither field"):
        score_vqa(["a", "b"], [{"answer": "a"}, {"question": "What?"}])
    with pytest.raises(ValueError, match=r"record 'q1' \(index 0\): field 'answers' must be a non-empty list"):
        score_vqa(["a"], [{"id": "q1", "answers": []}])
    with pytest.raises(ValueError, match=r"field 'answers' must be a non-empty list of strings"):
        score_vqa(["a"], [{"id": "q1", "answers": "dog"}])
    with pytest.raises(ValueError, match=r"record 'g1' \(index 0\): field 'answer' must be a string"):
        score_vqa(["a"], [{"id": "g1", "answer": ["a"]}])


def test_the_lavis_variant_always_normalises_the_prediction():
    unanimous = ["yes"] * 10
    assert vqa_accuracy("Yes.", unanimous) == 0.0  # official master: exact match when all agree
    assert vqa_accuracy("Yes.", unanimous, "lavis") == 1.0
    # LAVIS gives disagreeing human answers punctuation processing only: "Two" is not turned into "2" there
    mixed = ["two"] * 4 + ["2"] * 6
    assert vqa_accuracy("two", mixed, "official") == 1.0  # both sides "2"
    assert vqa_accuracy("two", mixed, "lavis") == 1.0  # prediction "2" matches the six "2"
    assert vqa_accuracy("2", ["Two"] * 4 + ["2"] * 6, "lavis") == 1.0
    assert vqa_accuracy("2", ["Two"] * 7 + ["2"] * 3, "lavis") == 0.9  # "Two" stays "Two" for LAVIS
    assert vqa_accuracy("2", ["Two"] * 7 + ["2"] * 3, "official") == 1.0
    with pytest.raises(ValueError, match="allowed values: official, lavis"):
        vqa_accuracy("2", mixed, "vqa")
    scored = score_vqa(["A cat.\nYes."], [{"id": "q", "answers": unanimous}], variant="lavis")
    assert scored["accuracy"] == 1.0
