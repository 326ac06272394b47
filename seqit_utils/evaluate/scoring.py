"""Benchmark scoring: answer extraction and per-item scores for XQuAD, MGSM / GSM8K and CommonsenseQA.

Every `score_*` function is pure: it takes model outputs and the loader records (`seqit_utils.data.loaders`) in the
same
order and returns `(items, summary)`: one dict of scores per output, and `n`, the metric means and `no_answer` (how
many outputs had nothing extractable; they score 0 and are counted in every mean). Text metrics come from
`seqit_utils.evaluate.metrics`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from typing import Any

from seqit_utils.evaluate.metrics import exact_match, last_answer, normalize_answer, rouge_l, segment, squad_f1

# "Answer: X", "the answer is X", "correct choice is X", "option: X" ("Choices:" is not a marker: no "is" or ":").
_ANSWER_MARKER = re.compile(r"\b(?:answer|choice|option)\s*(?:is\b\s*:?|[:：])", re.IGNORECASE)


def _after_marker(text: str) -> str | None:
    """The first non-blank line after the last answer marker ("" if nothing follows it); None without a marker."""
    found = list(_ANSWER_MARKER.finditer(text))
    if not found:
        return None
    lines = [line.strip() for line in text[found[-1].end() :].splitlines() if line.strip()]
    return lines[0] if lines else ""


def _summary(items: list[dict[str, Any]], keys: Sequence[str], no_answer: str) -> dict[str, Any]:
    """n, each key's mean over the items where it is not None (None if none are), and the no-answer count."""
    means = {}
    for key in keys:
        values = [float(item[key]) for item in items if item[key] is not None]
        means[key] = sum(values) / len(values) if values else None
    return {"n": len(items), **means, "no_answer": sum(item[no_answer] is None for item in items)}


def _check_lengths(outputs: Sequence[str], records: Sequence[Any]) -> None:
    if len(outputs) != len(records):
        raise ValueError(f"outputs has {len(outputs)} items but records has {len(records)}")


# ---------------------------------------------------------------- XQuAD (§4.1.1, Tables 2/9)
def xquad_references(
    records: Sequence[dict[str, Any]], english: Sequence[dict[str, Any]], *, part: str = "question"
) -> list[str]:
    """The parallel English text of each XQuAD record (same question id in `load_xquad(lang="en")`), for `score_xquad`.

    `part="question"`: the English question; `part="input"`: the whole English input ("Passage: …\nQuestion: …"), the
    intermediate output of §4.1.1's "translate the input into English" step.
    """
    if part not in ("question", "input"):
        raise ValueError(f"part={part!r} is not allowed; allowed values: question, input")
    by_id = {record["id"]: record[part] for record in english}
    missing = [record["id"] for record in records if record["id"] not in by_id]
    if missing:
        raise ValueError(f"{len(missing)} record ids have no English counterpart, e.g. {missing[0]!r}")
    return [by_id[record["id"]].strip() for record in records]


def xquad_answer(output: str, reference: str | None = None, gold: str = "") -> tuple[str, str]:
    """(translation part, answer part) of an XQuAD output; ("", "") for a blank output.

    Without `reference` (IT prompt): no translation part; the answer is the first non-blank line after the last
    answer marker ("Answer:", "the answer is"), else the last non-blank line. With the English `reference` (SIT
    prompt "First translate the input into English, then …"): `metrics.segment` splits the output's lines into a
    translation part (best ROUGE-L vs `reference`) and an answer part (vs the `gold` answer); an empty answer part
    falls back to the last non-blank line, which then also stays in the translation; a marker inside the answer part
    is applied as above. The gold answer only guides where the boundary falls: the answer part is always a suffix of
    the output's lines.
    """
    if not output.strip():
        return "", ""
    if reference is None:
        marked = _after_marker(output)
        return "", last_answer(output) if marked is None else marked
    if not gold.strip():
        raise ValueError("gold: a non-blank gold answer is needed to segment an output against a reference")
    translation, answer = segment(output, [reference, gold], multilingual=True)
    answer = answer or last_answer(output)
    marked = _after_marker(answer)
    return translation, answer.strip() if marked is None else marked


def score_xquad(
    outputs: Sequence[str],
    records: Sequence[dict[str, Any]],
    *,
    references: Sequence[str] | None = None,
    threshold: float = 0.5,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Accuracy, SQuAD EM / F1 and (with `references`) the following rate of XQuAD outputs (§4.1.1, Tables 2/9).

    Per item, on the answer part of `xquad_answer` and the record's gold `answers`: `accuracy` (the paper's metric:
    some SQuAD-normalised gold answer is a substring of the normalised answer part, so "1943" counts inside "in
    1943"), `exact_match` and `f1` (max over the gold answers, as the SQuAD v1.1 script; whitespace tokens, so a
    Chinese answer is one token). `followed` (None without references): the translation part is non-blank and its
    ROUGE-L (multilingual tokenizer) vs the English reference is ≥ `threshold`. To accept answers in English as well
    (the translate-then-answer model may answer in English), add the parallel English answers to each `answers`.
    """
    _check_lengths(outputs, records)
    if references is not None:
        _check_lengths(outputs, references)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold: expected a value in [0, 1], got {threshold!r}")
    items = []
    for i, (output, record) in enumerate(zip(outputs, records, strict=True)):
        golds = [str(answer) for answer in record["answers"]]
        reference = None if references is None else references[i]
        translation, answer = xquad_answer(output, reference, golds[0] if golds else "")
        predicted = normalize_answer(answer)
        contained = any(gold and gold in predicted for gold in map(normalize_answer, golds))
        rouge = None if reference is None else rouge_l(translation, reference, multilingual=True)
        items.append(
            {
                "answer": answer or None,
                "translation": translation,
                "accuracy": bool(predicted) and contained,
                "exact_match": max((exact_match(answer, g) for g in golds), default=0.0) if answer else 0.0,
                "f1": max((squad_f1(answer, g) for g in golds), default=0.0) if answer else 0.0,
                "translation_rouge": rouge,
                "followed": None if rouge is None else bool(translation.strip()) and rouge >= threshold,
            }
        )
    return items, _summary(items, ("accuracy", "exact_match", "f1", "followed"), "answer")


# ---------------------------------------------------------------- MGSM / GSM8K (Tables 5, 10/11)
# The first number after the first of these markers is the answer: the CoT exemplars of every MGSM language end in
# one (seqit_eval/eval/mgsm/examples), GSM8K solutions in "#### N". Their openings ("Step-by-Step Answer:",
# "దశలవారీగా సమాధానం:") are not markers; taking the *first* marker ignores a hallucinated next exemplar.
_NUMBER_MARKER = re.compile(
    r"####|\banswer is|Die Antwort (?:ist|lautet)|La respuesta es|La réponse est|Ответ\s*[—:-]|答案是|答えは"
    r"|উত্তর হল|Jibu ni|సమాధానం(?!\s*:)|คำตอบคือ",
    re.IGNORECASE,
)
# Thousands separators per MGSM language, as written in its questions (mgsm/*.tsv): "80.000", "80 000", "80,000".
GROUP_SEPARATORS = {"de": ".,", "es": ", ", "fr": ", ", "ru": ", "}


@functools.lru_cache(maxsize=8)
def _number_pattern(separators: str) -> re.Pattern[str]:
    # A space separator also stands for no-break and narrow no-break spaces (French typography).
    group = "".join(re.escape(s) if s != " " else " \u00a0\u202f" for s in separators)
    # Sign only right before the number (or its currency sign) and not after a digit/letter: "5-3" is 5 and 3.
    return re.compile(
        rf"(?<![A-Za-z0-9.])(?P<sign>-?)[$€£¥]?(?P<int>[0-9]+(?:[{group}][0-9]{{3}}(?![0-9]))*)(?P<dec>\.[0-9]+)?"
    )


def extract_number(output: str, *, lang: str = "en") -> float | None:
    """The final answer of a chain-of-thought output as a number; None if the output holds no number.

    Rules: "−" counts as "-"; a number is ASCII digits with an optional leading "-" (not right after a digit or a
    letter) and currency sign, groups of exactly three digits after a thousands separator (`GROUP_SEPARATORS[lang]`,
    default ","), and an optional ".digits" decimal part (a trailing period is punctuation). The answer is the first
    number after the first answer marker ("The answer is", "#### ", or the MGSM language's own phrase), else the
    last number in the output.
    """
    text = output.replace("\u2212", "-")
    pattern = _number_pattern(GROUP_SEPARATORS.get(lang, ","))
    marker = _NUMBER_MARKER.search(text)
    found = pattern.search(text, marker.end()) if marker else None
    if found is None:
        found = next(iter(reversed(list(pattern.finditer(text)))), None)
    if found is None:
        return None
    return float(found["sign"] + re.sub(r"[^0-9]", "", found["int"]) + (found["dec"] or ""))


def score_gsm(
    outputs: Sequence[str], records: Sequence[dict[str, Any]], *, lang: str | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Accuracy of MGSM / GSM8K outputs: `extract_number` equals the record's `answer_number` (|difference| ≤ 1e-6).

    `lang` (default: each record's `lang`, else "en") picks the thousands separators.
    """
    _check_lengths(outputs, records)
    items = []
    for output, record in zip(outputs, records, strict=True):
        number = extract_number(output, lang=lang or record.get("lang") or "en")
        gold = float(record["answer_number"])
        correct = number is not None and math.isclose(number, gold, rel_tol=0.0, abs_tol=1e-6)
        items.append({"prediction": number, "accuracy": correct})
    return items, _summary(items, ("accuracy",), "prediction")


# ---------------------------------------------------------------- CommonsenseQA (Tables 1, 7, 8)
# The loaders' input layout (the authors' processed files): "Question: <stem>\nChoices: A:bank, B:library, …".
_REPEATED_INPUT = re.compile(r"^(?:Question|Choices)\s*:", re.IGNORECASE)
_CHOICE = re.compile(r"([A-Z]):(.*?)(?=, [A-Z]:|$)")
_LABEL_ONLY = re.compile(r"[(\[]?([A-Za-z])[)\]]?[.:)]?")  # "B", "(b)", "B.", "[B]", "B:"
_LABEL_FIRST = re.compile(r"[(\[]?([A-Z])(?:[)\]]|[.:])")  # "B:library", "(B) library", "B. library"
_LABEL_ANYWHERE = re.compile(r"(?<![A-Za-z])[(\[]([A-Z])[)\]]|\b([A-Z])(?=[:)])|\b(?:choice|option)\s+([A-Z])\b")


def csqa_choices(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) options of a CommonsenseQA record: its `choices`, else parsed from the input's "Choices:" line."""
    if record.get("choices"):
        return [(choice["label"], choice["text"]) for choice in record["choices"]]
    line = next((ln for ln in str(record.get("input", "")).splitlines() if ln.startswith("Choices:")), None)
    if line is None:
        raise ValueError(f"record {record.get('id')!r}: no 'choices' field and no 'Choices:' line in its input")
    return [(label, text.strip()) for label, text in _CHOICE.findall(line.removeprefix("Choices:").strip())]


def extract_choice(output: str, choices: Sequence[tuple[str, str]]) -> str | None:
    """The option label an output chooses, or None (blank output, only a repeat of the input, nothing recognisable).

    Candidate text: the first non-blank line after the last answer marker ("Answer:", "the correct choice is"), else
    the last non-blank line that does not start with "Question:" / "Choices:" (the repeated input of the SIT prompt).
    The first rule that yields one of the record's labels wins: (1) the candidate is a lone label ("B", "(b)",
    "B."); (2) it starts with an upper-case label and a delimiter ("B:library", "(B) library"); (3) an upper-case
    label in brackets, before ":" or ")", or after "choice"/"option"; (4) the longest option text found as whole
    words in its SQuAD normalisation, if no other is as long ("A bank" → the option "bank", not the label A).
    """
    labels = {label: normalize_answer(text) for label, text in choices}
    marked = _after_marker(output)
    if marked is None:
        lines = [ln.strip() for ln in output.splitlines() if ln.strip() and not _REPEATED_INPUT.match(ln.strip())]
        marked = lines[-1] if lines else ""
    candidate = marked.strip()
    if not candidate:
        return None
    lone = _LABEL_ONLY.fullmatch(candidate)
    first = _LABEL_FIRST.match(candidate)
    for label in (lone and lone[1].upper(), first and first[1]):
        if label in labels:
            return label
    for found in _LABEL_ANYWHERE.finditer(candidate):
        label = next(group for group in found.groups() if group)
        if label in labels:
            return label
    normalized = f" {normalize_answer(candidate)} "
    inside = [(len(text), label) for label, text in labels.items() if text and f" {text} " in normalized]
    longest = max(inside, default=(0, None))
    return longest[1] if [size for size, _ in inside].count(longest[0]) == 1 else None


def score_csqa(
    outputs: Sequence[str], records: Sequence[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Accuracy of CommonsenseQA outputs (IT: the answer; SIT: the repeated input, then the answer) against the gold
    label: the record's `answer_key`, else the last line of its `output` (the authors' processed files)."""
    _check_lengths(outputs, records)
    items = []
    for output, record in zip(outputs, records, strict=True):
        gold = record.get("answer_key") or last_answer(str(record["output"]))
        choice = extract_choice(output, csqa_choices(record))
        items.append({"prediction": choice, "gold": gold, "accuracy": choice is not None and choice == gold})
    return items, _summary(items, ("accuracy",), "prediction")
