"""Caption-then-answer VQA evaluation (§4.1.2, Table 3): VQAv2 soft accuracy, GQA exact match, following rate.

VQAv2 accuracy reproduces the official evaluation, GT-Vision-Lab/VQA `PythonEvaluationTools/vqaEvaluation/vqaEval.py`
as on master (commit a013f00, the revision lmms-eval cites as the reference), rewritten from its behaviour:

- prediction and the human answers: newlines/tabs → spaces, stripped — always;
- only when the (stripped) human answers are not all identical, both the prediction and every human answer get
  punctuation processing and then digit/article processing (`normalize_answer`). When all annotators agree, nothing
  else is done and the match is exact and case-sensitive ("Yes" scores 0 against ten "yes"). The maintainer confirms
  this branch in GT-Vision-Lab/VQA issue #14 (its rationale: leave OCR answers untouched). Other revisions in the
  repository's history, and the copy LAVIS vendors (`lavis/common/vqa_tools/vqa_eval.py`), differ: they always
  normalise the prediction and give the human answers punctuation processing only; we follow master
  by default, and `variant="lavis"` reproduces LAVIS's;
- accuracy = mean over annotators i of min(1, #other answers equal to the prediction / 3): each of the 10 answers is
  left out once (the official loop drops the one answer dict, and answer dicts differ by `answer_id`).

GQA (`gqa_exact_match`): LAVIS, the InstructBLIP codebase (`GQATask._report_metrics` in `lavis/tasks/vqa.py`), applies
punctuation + digit/article processing to the prediction only and compares it with the raw gold answer. We normalise
both sides, so a gold answer the processing would change ("none" → "0", "the ...") can still be matched.

Generations are "<caption>\\n<answer>" (SIT) or "<answer>" (IT); `extract_answer` takes the answer part and
`follows` says whether a description came first (the following rate of caption-then-answer).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from seqit_utils.evaluate.metrics import last_answer

# ---------------------------------------------------------------- official answer normalisation
# Removed or replaced by a space (see `_punctuation`); "'", ":" and "." are not in the official list.
PUNCTUATION = ';/[]"{}()=+\\_-><@`,?!'
# "1,000": a comma between digits anywhere in the answer switches every punctuation character to removal.
_DIGIT_COMMA = re.compile(r"\d,\d")
# The official pattern is "(?!<=\d)(\.)(?!\d)": its "(?!<=\d)" is a lookahead (not the intended lookbehind) that
# can never fail before a ".", so the rule is "drop every period not followed by a digit" ("3.5" keeps its period).
_PERIOD = re.compile(r"\.(?!\d)")
# The official call `periodStrip.sub("", text, re.UNICODE)` passes re.UNICODE (= 32) as `count`: at most 32 periods
# go. Kept for parity; it only matters for runaway generations.
_PERIOD_COUNT = int(re.UNICODE)
# fmt: off
NUMBER_WORDS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
                "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
# fmt: on
ARTICLES = frozenset({"a", "an", "the"})
# Every key of the official contractions table is one of these forms with exactly one apostrophe left out ("dont" →
# "don't"; "couldnt've" and "couldn'tve" → "couldn't've"). The table's capitalised keys ("Im", "Ive", "Id've",
# "I'dve") never match because words are lower-cased first, and "let's"/"she's" map to themselves: all left out.
# fmt: off
CONTRACTED = (
    "ain't", "aren't", "can't", "could've", "couldn't", "couldn't've", "didn't", "doesn't", "don't", "hadn't",
    "hadn't've", "hasn't", "haven't", "he'd", "he'd've", "he's", "how'd", "how'll", "how's", "isn't", "it'd",
    "it'd've", "it'll", "ma'am", "mightn't", "mightn't've", "might've", "mustn't", "must've", "needn't", "not've",
    "o'clock", "oughtn't", "'ow's'at", "shan't", "she'd've", "should've", "shouldn't", "shouldn't've", "somebody'd've",
    "somebody'll", "somebody's", "someone'd", "someone'd've", "someone'll", "someone's", "something'd",
    "something'd've", "something'll", "that's", "there'd", "there'd've", "there're", "there's", "they'd", "they'd've",
    "they'll", "they're", "they've", "'twas", "wasn't", "we'd've", "we've", "weren't", "what'll", "what're", "what's",
    "what've", "when's", "where'd", "where's", "where've", "who'd", "who'd've", "who'll", "who's", "who've", "why'll",
    "why're", "why's", "won't", "would've", "wouldn't", "wouldn't've", "y'all", "y'all'll", "y'all'd've", "you'd",
    "you'd've", "you'll", "you're", "you've",
)
# fmt: on
CONTRACTIONS = {
    form[:i] + form[i + 1 :]: form for form in CONTRACTED for i, char in enumerate(form) if char == "'"
} | {"somebody'd": "somebodyd"}  # the official table has this one entry the wrong way round; kept for parity


def _clean_whitespace(text: str) -> str:
    return text.replace("\n", " ").replace("\t", " ").strip()


def _punctuation(text: str) -> str:
    """Official punctuation processing. Each character of PUNCTUATION is removed when it touches a space somewhere in
    the text (or the text has a digit-comma-digit), else replaced by a space; then periods not before a digit go."""
    remove_all = _DIGIT_COMMA.search(text) is not None
    out = text
    for char in PUNCTUATION:
        # the tests look at the input text, not at the partly processed one, as the official loop does
        glued = remove_all or f"{char} " in text or f" {char}" in text
        out = out.replace(char, "" if glued else " ")
    return _PERIOD.sub("", out, count=_PERIOD_COUNT)


def _digits_articles(text: str) -> str:
    """Official digit/article processing: lower-case, number words → digits, drop articles, restore contractions."""
    words = (NUMBER_WORDS.get(word, word) for word in text.lower().split())
    return " ".join(CONTRACTIONS.get(word, word) for word in words if word not in ARTICLES)


def normalize_answer(text: str) -> str:
    """The official VQA normalisation of an answer: whitespace, punctuation, then digit/article processing."""
    return _digits_articles(_punctuation(_clean_whitespace(text)))


# ---------------------------------------------------------------- metrics
VARIANTS = ("official", "lavis")


def vqa_accuracy(prediction: str, answers: Sequence[str], variant: str = "official") -> float:
    """VQAv2 accuracy of `prediction` against the human answers (10 in VQAv2). `variant` "official": as
    GT-Vision-Lab's master computes it (see the module docstring); "lavis": as the copy in LAVIS (InstructBLIP's
    codebase, which produced the numbers InstructBLIP results are usually compared with): the prediction is always
    normalised, the human answers get punctuation processing when they disagree. Raises ValueError when `answers` is
    empty or `variant` unknown."""
    if not answers:
        raise ValueError("vqa_accuracy needs the human answers (10 per VQAv2 question); got none")
    if variant not in VARIANTS:
        raise ValueError(f"variant = {variant!r} is unknown; allowed values: {', '.join(VARIANTS)}")
    gold = [_clean_whitespace(answer) for answer in answers]
    prediction = _clean_whitespace(prediction)
    disagree = len(set(gold)) > 1
    if variant == "lavis":
        prediction = normalize_answer(prediction)
        gold = [_punctuation(answer) for answer in gold] if disagree else gold
    elif disagree:  # official: normalise only when the annotators disagree
        gold = [normalize_answer(answer) for answer in gold]
        prediction = normalize_answer(prediction)
    matches = [answer == prediction for answer in gold]
    total = sum(matches)
    # with k matches among 10 answers: (k * min(1, (k-1)/3) + (10-k) * min(1, k/3)) / 10
    return sum(min(1.0, (total - match) / 3) for match in matches) / len(matches)


def gqa_exact_match(prediction: str, answer: str) -> float:
    """GQA accuracy of one answer: 1.0 when the normalised prediction equals the normalised gold answer, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(answer))


# ---------------------------------------------------------------- reading a generation
_ANSWER_TAG = re.compile(r"\banswer:", re.IGNORECASE)


def _split_answer(text: str) -> tuple[str, str] | None:
    """(text before, text after) the last "Answer:" (any case), or None when there is none."""
    tags = list(_ANSWER_TAG.finditer(text))
    return (text[: tags[-1].start()], text[tags[-1].end() :]) if tags else None


def extract_answer(text: str) -> str:
    """The answer part of a generation, stripped: what follows the last "Answer:" (any case) if there is one, else
    the last non-empty line (SIT outputs "<caption>\\n<answer>", IT outputs "<answer>")."""
    parts = _split_answer(text)
    return parts[1].strip() if parts else last_answer(text)


def follows(text: str) -> bool:
    """Whether a caption-then-answer generation follows the instruction: a non-empty description precedes the answer
    (text before the last "Answer:" when there is one, else more than one non-empty line)."""
    parts = _split_answer(text)
    if parts:
        return bool(parts[0].strip())
    return sum(1 for line in text.splitlines() if line.strip()) > 1


# ---------------------------------------------------------------- a split
def _where(record: Mapping[str, Any], index: int) -> str:
    return f"record {record['id']!r} (index {index})" if "id" in record else f"record {index}"


def _item_score(prediction: str, record: Mapping[str, Any], index: int, variant: str) -> float:
    if "answers" in record:  # VQAv2 (checked first when a record has both fields)
        answers = record["answers"]
        if isinstance(answers, str) or not answers or not all(isinstance(answer, str) for answer in answers):
            raise ValueError(f"{_where(record, index)}: field 'answers' must be a non-empty list of strings")
        return vqa_accuracy(prediction, answers, variant)
    if "answer" in record:  # GQA
        if not isinstance(record["answer"], str):
            raise ValueError(f"{_where(record, index)}: field 'answer' must be a string")
        return gqa_exact_match(prediction, record["answer"])
    raise ValueError(
        f"{_where(record, index)}: has neither field 'answers' (VQAv2, the 10 human answers) nor 'answer' (GQA)"
    )


def score_vqa(
    generations: Sequence[str], records: Sequence[Mapping[str, Any]], variant: str = "official"
) -> dict[str, Any]:
    """Score each generation's extracted answer against its record (`answers`: VQAv2 accuracy of `variant`, else
    `answer`: GQA exact match). Returns {"n", "accuracy", "following", "per_item"} as fractions (None when there are
    no items)."""
    if len(generations) != len(records):
        raise ValueError(f"score_vqa: {len(generations)} generations for {len(records)} records; they must pair up")
    per_item = [
        _item_score(extract_answer(text), record, index, variant)
        for index, (text, record) in enumerate(zip(generations, records, strict=True))
    ]
    n = len(per_item)
    return {
        "n": n,
        "accuracy": sum(per_item) / n if n else None,
        "following": sum(follows(text) for text in generations) / n if n else None,
        "per_item": per_item,
    }
