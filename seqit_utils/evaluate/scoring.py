"""Benchmark scoring with two named metrics side by side (docs/metrics.md): XQuAD, MGSM / GSM8K, CommonsenseQA.

`paper` = the authors' definitions (`seqit_utils.evaluate.paper_metrics`); `strict` = ours (robust extraction from
`seqit_utils.evaluate.extract`, SQuAD-normalised EM/F1, an empty or missing answer never counts). Every `score_*`
function is pure: it takes model outputs and the loader records in the same order and returns `(items, summary)`:
one dict of scores per output, and a summary with `n`, the `paper_*` and `strict_*` means and `no_answer` (outputs
with nothing extractable by the strict rules; they score 0 and count in every mean).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from seqit_utils.evaluate import extract, paper_metrics
from seqit_utils.evaluate.extract import extract_choice, extract_number
from seqit_utils.evaluate.metrics import exact_match, follow_steps, normalize_answer, rouge_l, segment, squad_f1

__all__ = ["extract_choice", "extract_number"]


def _summary(items: list[dict[str, Any]], keys: Sequence[str], no_answer: str) -> dict[str, Any]:
    """n, each key's mean over the items where it is not None (None if none are), and the no-answer count."""
    means = {}
    for key in keys:
        values = [float(item[key]) for item in items if item[key] is not None]
        means[key.removesuffix("ed") + "_rate" if key.endswith("followed") else key] = (
            sum(values) / len(values) if values else None
        )
    return {"n": len(items), **means, "no_answer": sum(item[no_answer] is None for item in items)}


def _check_lengths(outputs: Sequence[str], records: Sequence[Any], name: str = "records") -> None:
    if records is not None and len(outputs) != len(records):
        raise ValueError(f"outputs has {len(outputs)} items but {name} has {len(records)}")


def _check_threshold(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: expected a value in [0, 1], got {value!r}")


# ---------------------------------------------------------------- XQuAD (§4.1.1, Tables 2/9)
def xquad_references(
    records: Sequence[dict[str, Any]], english: Sequence[dict[str, Any]], *, part: str = "question"
) -> list[str]:
    """The parallel English text of each XQuAD record (same question id in `load_xquad(lang="en")`).

    `part="question"`: the English question; `part="input"`: the whole English input, the intermediate output of
    §4.1.1's "translate the input into English" step (`references` / `english_inputs` of `score_xquad`).
    """
    if part not in ("question", "input"):
        raise ValueError(f"part={part!r} is not allowed; allowed values: question, input")
    by_id = {record["id"]: record[part] for record in english}
    missing = [record["id"] for record in records if record["id"] not in by_id]
    if missing:
        raise ValueError(f"{len(missing)} record ids have no English counterpart, e.g. {missing[0]!r}")
    return [by_id[record["id"]].strip() for record in records]


def xquad_answer(output: str, reference: str | None = None, gold: str = "") -> tuple[str, str]:
    """(translation part, answer part) of an XQuAD output under the strict rules; ("", "") for a blank output.

    Without `reference` (IT prompt): the answer after the last answer marker in any XQuAD language (`extract`),
    else the last non-blank line; "Note: …" lines are dropped first. With the English `reference` (SIT prompt
    "First translate the input into English, then …"): `metrics.segment` splits the output's lines into a
    translation part (best ROUGE-L vs `reference`) and an answer part (vs the English `gold`); an empty answer part
    falls back to the last line; a marker inside the answer part is applied as above.
    """
    if not output.strip():
        return "", ""
    if reference is None:
        marked = extract.after_marker(output)
        return "", extract.last_line(output) if marked is None else marked
    if not gold.strip():
        raise ValueError("gold: a non-blank gold answer is needed to segment an output against a reference")
    translation, answer = segment(extract.drop_notes(output), [reference, gold], multilingual=True)
    answer = answer or extract.last_line(output)
    marked = extract.after_marker(answer)  # only inside the answer part: a passage may hold "the result is"
    return translation, extract.last_line(answer) if marked is None else marked


def _contains(answer: str, golds: Sequence[str]) -> bool:
    """Some SQuAD-normalised gold is in the normalised non-empty answer ("1943" in "in 1943"; substrings, since
    Chinese and Thai answers have no spaces)."""
    predicted = normalize_answer(answer)
    return predicted != "" and any(g and g in predicted for g in map(normalize_answer, golds))


def score_xquad(
    outputs: Sequence[str],
    records: Sequence[dict[str, Any]],
    *,
    references: Sequence[str] | None = None,
    english_inputs: Sequence[str] | None = None,
    paper_threshold: float = paper_metrics.XQUAD_FOLLOW_THRESHOLD,
    strict_threshold: float = 0.5,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Both metrics of XQuAD outputs (§4.1.1, Tables 2/9); gold = the English answers (`answers_en`, else `answers`).

    paper (`paper_metrics`): `paper_accuracy` = the authors' hit against the first English answer;
    `paper_follow_rate` = ROUGE-1 F(English input, output) > `paper_threshold` (None without `english_inputs`).
    strict: on the answer part of `xquad_answer`, `strict_accuracy` (an English gold inside a non-empty answer, whole
    words), `strict_exact_match` / `strict_f1` (max over the English golds, SQuAD v1.1) and the same against the
    in-language `answers` (`*_native`); `strict_follow_rate` (None without `references`, the English input the SIT
    prompt asks to translate to): the translation part's ROUGE-L (multilingual) ≥ `strict_threshold`.
    """
    _check_lengths(outputs, records)
    _check_lengths(outputs, references, "references")
    _check_lengths(outputs, english_inputs, "english_inputs")
    _check_threshold("paper_threshold", paper_threshold)
    _check_threshold("strict_threshold", strict_threshold)
    items = []
    for i, (output, record) in enumerate(zip(outputs, records, strict=True)):
        native = [str(answer) for answer in record["answers"]]
        english = [str(answer) for answer in record.get("answers_en") or native]
        reference = None if references is None else references[i]
        translation, answer = xquad_answer(output, reference, english[0] if english else "")
        rouge = None if reference is None else rouge_l(translation, reference, multilingual=True)
        items.append(
            {
                "answer": answer or None,
                "translation": translation,
                "paper_prediction": paper_metrics.xquad_prediction(output),
                "paper_accuracy": paper_metrics.xquad_hit(output, english[0]) if english else False,
                "paper_followed": None
                if english_inputs is None
                else paper_metrics.xquad_followed(output, english_inputs[i], paper_threshold),
                "strict_accuracy": _contains(answer, english),
                "strict_exact_match": max((exact_match(answer, g) for g in english), default=0.0) if answer else 0.0,
                "strict_f1": max((squad_f1(answer, g) for g in english), default=0.0) if answer else 0.0,
                "strict_exact_match_native": max((exact_match(answer, g) for g in native), default=0.0)
                if answer
                else 0.0,
                "strict_f1_native": max((squad_f1(answer, g) for g in native), default=0.0) if answer else 0.0,
                "translation_rouge": rouge,
                "strict_followed": None if rouge is None else bool(translation.strip()) and rouge >= strict_threshold,
            }
        )
    keys = ("paper_accuracy", "paper_followed", "strict_accuracy", "strict_exact_match", "strict_f1")
    keys += ("strict_exact_match_native", "strict_f1_native", "strict_followed")
    return items, _summary(items, keys, "answer")


# ---------------------------------------------------------------- MGSM / GSM8K (Tables 5, 10/11)
def score_gsm(
    outputs: Sequence[str],
    records: Sequence[dict[str, Any]],
    *,
    lang: str | None = None,
    english_questions: Sequence[str] | None = None,
    references: Sequence[str] | None = None,
    paper_threshold: float = paper_metrics.MGSM_FOLLOW_THRESHOLD,
    strict_threshold: float = 0.5,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Both metrics of MGSM / GSM8K outputs against the record's `answer_number`.

    paper: `paper_accuracy` = the authors' last number after removing digit commas, exact match
    (`paper_metrics.gsm_correct`); `paper_follow_rate` = ROUGE-L F(output, English question) > `paper_threshold` or
    "translate the question" in the output (None without `english_questions`). strict: `strict_accuracy` =
    `extract.extract_number` (locale of `lang`, default each record's `lang`) equals the gold (|difference| ≤ 1e-6);
    `strict_follow_rate` (None without `references`, the English question the trans-CoT prompt asks for): the output's
    translation part (`metrics.segment` against [question, answer]) has ROUGE-L ≥ `strict_threshold`.
    """
    _check_lengths(outputs, records)
    _check_lengths(outputs, english_questions, "english_questions")
    _check_lengths(outputs, references, "references")
    _check_threshold("paper_threshold", paper_threshold)
    _check_threshold("strict_threshold", strict_threshold)
    items = []
    for i, (output, record) in enumerate(zip(outputs, records, strict=True)):
        number = extract_number(output, lang=lang or record.get("lang") or "en")
        gold = float(record["answer_number"])
        strict_followed = None
        if references is not None:
            part = segment(output, [references[i], str(record["answer_number"])], multilingual=True)[0]
            strict_followed = rouge_l(part, references[i], multilingual=True) >= strict_threshold
        items.append(
            {
                "prediction": number,
                "paper_prediction": paper_metrics.gsm_prediction(output),
                "paper_accuracy": paper_metrics.gsm_correct(output, gold),
                "paper_followed": None
                if english_questions is None
                else paper_metrics.mgsm_followed(output, english_questions[i], paper_threshold),
                "strict_accuracy": number is not None and math.isclose(number, gold, rel_tol=0.0, abs_tol=1e-6),
                "strict_followed": strict_followed,
            }
        )
    keys = ("paper_accuracy", "paper_followed", "strict_accuracy", "strict_followed")
    return items, _summary(items, keys, "prediction")


# ---------------------------------------------------------------- CommonsenseQA (Tables 1, 7, 8)
# The loaders' input layout (the authors' processed files): "Question: <stem>\nChoices: A:bank, B:library, …".
_CHOICE = re.compile(r"([A-Z]):(.*?)(?=, [A-Z]:|$)")


def csqa_choices(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) options of a CommonsenseQA record: its `choices`, else parsed from the input's "Choices:" line."""
    if record.get("choices"):
        return [(choice["label"], choice["text"]) for choice in record["choices"]]
    line = next((ln for ln in str(record.get("input", "")).splitlines() if ln.startswith("Choices:")), None)
    if line is None:
        raise ValueError(f"record {record.get('id')!r}: no 'choices' field and no 'Choices:' line in its input")
    return [(label, text.strip()) for label, text in _CHOICE.findall(line.removeprefix("Choices:").strip())]


def _intermediate_followed(output: str, record: dict[str, Any], threshold: float) -> bool:
    """Every step before the answer is present: its part's ROUGE-L vs its gold ≥ `threshold` (`metrics.follow_steps`;
    a paraphrase step's unknown gold is the input, which a paraphrase stays close to)."""
    steps = [record["input"] if s.get("output") is None else str(s["output"]) for s in record.get("steps") or []]
    if len(steps) < 2:
        return True
    return all(row["followed"] for row in follow_steps(output, steps, threshold)["steps"][:-1])


def score_csqa(
    outputs: Sequence[str], records: Sequence[dict[str, Any]], *, threshold: float = 0.5
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Accuracy and following of CommonsenseQA outputs (IT: the answer; SIT: the repeated / paraphrased input, then
    the answer) against the gold label: the record's `answer_key`, else the last line of its `output`.

    The authors published no CommonsenseQA scorer (docs/metrics.md), so `paper_*` equals `strict_*` here, ours:
    accuracy = `extract.extract_choice` is the gold label; following = every intermediate step's part has ROUGE-L ≥
    `threshold` against its gold and a choice can be read from the output (a bare non-blank text is not an answer).
    """
    _check_lengths(outputs, records)
    _check_threshold("threshold", threshold)
    items = []
    for output, record in zip(outputs, records, strict=True):
        gold = record.get("answer_key") or extract.last_line(str(record["output"]))
        choice = extract_choice(output, csqa_choices(record))
        correct = choice is not None and choice == gold
        followed = choice is not None and _intermediate_followed(output, record, threshold)
        items.append({"prediction": choice, "gold": gold, "paper_accuracy": correct, "paper_followed": followed,
                      "strict_accuracy": correct, "strict_followed": followed})  # fmt: skip
    keys = ("paper_accuracy", "paper_followed", "strict_accuracy", "strict_followed")
    return items, _summary(items, keys, "prediction")
