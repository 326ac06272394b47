"""Robust answer extraction for the `strict` metric (ours; docs/metrics.md): XQuAD spans, MGSM numbers, CSQA labels.

Pure functions over one model output. They read answer markers in all eleven XQuAD languages and the MGSM languages,
markdown emphasis (`**Answer:**` with the answer on the next line), trailing "Note: …" lines, thousands separators
per locale, number words and non-Latin digits. An empty or missing answer is returned as "" / None and never counts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from seqit_utils.evaluate.metrics import normalize_answer
from seqit_utils.evaluate.number_words import cjk_number, word_numbers

# "Answer" in the XQuAD (en de es zh ru ar el vi hi tr th) and MGSM (fr ja sw bn te) languages; "result" as the
# authors' script also reads it (paper_metrics.PAPER_MARKERS). Words of scripts without spaces need no word boundary.
SPACED_WORDS = (
    r"final answer|answer|result|antwort|ergebnis|respuesta|resultado|réponse|ответ|الإجابة|الجواب|απάντηση"
    r"|trả lời|đáp án|उत्तर|cevap|yanıt|jibu|উত্তর|సమాధానం"
)
UNSPACED_WORDS = r"答案|回答|答え|解答|คำตอบ"
_MARK = r"[*_`#>\s]*"  # markdown around a marker: "**Answer:**", "### Answer:", "> Answer:"
_WORD = rf"(?:(?<!\w)(?:{SPACED_WORDS})|(?:{UNSPACED_WORDS}))"
# A marker: the answer word then ":" / "：" / "is" ("the answer is", "die Antwort ist", "答案是").
XQUAD_MARKER = re.compile(rf"{_WORD}{_MARK}(?:[:：]|\s+(?:is|ist|lautet|es|est)\b:?|是|は)", re.IGNORECASE)
# Notes and remarks after the answer ("Note: the passage does not say …") are not part of it.
NOTE_LINE = re.compile(
    r"^[*_(\s]*(?:note|nb|n\.b\.|anmerkung|hinweis|nota|注|注意|备注|примечание|ملاحظة|σημείωση|lưu ý|ghi chú"
    r"|नोट|टिप्पणी|not|หมายเหตุ)[*_\s]*[:：]",
    re.IGNORECASE,
)


_EMPHASIS = re.compile(r"^(?:\*\*|__|`)+|(?:\*\*|__|`)+$")  # "**B**", "__Paris__", "`42`"; a lone "*" stays


def _clean(text: str) -> str:
    return _EMPHASIS.sub("", text.strip()).strip()


def drop_notes(output: str) -> str:
    """`output` without its lines from the first "Note: …" line on (any XQuAD language's word for note)."""
    lines = output.splitlines()
    cut = next((i for i, line in enumerate(lines) if i and NOTE_LINE.match(line.strip())), len(lines))
    return "\n".join(lines[:cut])


def after_marker(output: str) -> str | None:
    """The answer after the last answer marker of `output` (notes dropped): the rest of its line, else the next
    non-blank line, without markdown emphasis or quotes; "" when nothing follows; None without a marker."""
    text = drop_notes(output)
    found = list(XQUAD_MARKER.finditer(text))
    if not found:
        return None
    rest = text[found[-1].end() :]
    lines = [_clean(line) for line in rest.splitlines()]
    return next((line for line in lines if line), "")


def last_line(output: str) -> str:
    """The last non-blank line of `output` after dropping notes ("" if none), without markdown emphasis."""
    lines = [_clean(line) for line in drop_notes(output).splitlines() if _clean(line)]
    return lines[-1] if lines else ""


# ---------------------------------------------------------------- numbers (GSM8K, MGSM)
# Decimal comma per MGSM locale (mgsm/*.tsv write "2,5" there); elsewhere "." is decimal and "," groups thousands.
DECIMAL_COMMA = frozenset({"de", "es", "fr", "ru"})
_SPACES = " \u00a0\u202f\u2009"
# The final-answer marker: "The answer is", "#### ", a line opening with "Answer:" / "Final answer:" (in any MGSM
# language); a CoT opening such as "Step-by-Step Answer:" is not at the start of its line and does not count.
NUMBER_MARKER = re.compile(
    rf"####|\banswer is|die antwort (?:ist|lautet)|la respuesta es|la réponse est|ответ\s*[—:-]|答案是|答えは"
    rf"|উত্তর হল|jibu ni|คำตอบคือ|(?:^|(?<=\n)){_MARK}{_WORD}{_MARK}[:：]",
    re.IGNORECASE,
)


def ascii_digits(text: str) -> str:
    """`text` with every decimal digit of any script (Bengali, Thai, Devanagari, Arabic-Indic, full-width …) as
    ASCII, and "−" as "-"."""
    return "".join(
        str(unicodedata.digit(c)) if c.isdigit() and not c.isascii() and unicodedata.decimal(c, None) is not None
        else c
        for c in text.replace("\u2212", "-")
    )  # fmt: skip


def _number_pattern(lang: str) -> re.Pattern[str]:
    decimal, groups = (",", ".," + _SPACES) if lang in DECIMAL_COMMA else (".", "," + _SPACES)
    group = "".join(re.escape(c) for c in groups)
    return re.compile(
        rf"(?<![\w.,])(?P<sign>-?)[$€£¥₹]?(?P<int>[0-9]+(?:[{group}][0-9]{{3}}(?![0-9]))*)"
        rf"(?P<dec>{re.escape(decimal)}[0-9]+(?![0-9]))?"
    )


def _value(found: re.Match[str]) -> float:
    return float(found["sign"] + re.sub(r"[^0-9]", "", found["int"]) + "." + (found["dec"] or ".0")[1:])


def _word_number(text: str, lang: str, *, last: bool) -> float | None:
    """The first (or last) number word of `text` in `lang` or English; Chinese/Japanese numerals too."""
    words = {**word_numbers("en"), **word_numbers(lang)}
    hits: list[tuple[int, float]] = []
    lowered = text.lower()
    for word, value in words.items():
        boundary = r"" if lang == "th" else r"\b"
        hits += [(m.start(), value) for m in re.finditer(rf"{boundary}{re.escape(word)}{boundary}", lowered)]
    hits += [(m.start(), v) for m in re.finditer(r"[零〇一二两兩三四五六七八九十]+", text) if (v := cjk_number(m[0]))]
    if not hits:
        return None
    # Longest word at a position wins ("seventeen" over "seven"); Thai compounds start at the same place.
    hits.sort(key=lambda hit: (hit[0], -hit[1]))
    return float(hits[-1][1] if last else hits[0][1])


def extract_number(output: str, *, lang: str = "en") -> float | None:
    """The final answer of a chain-of-thought output as a number; None if there is none.

    The first number after the first final-answer marker (`NUMBER_MARKER`), else the last number of the output.
    Digits of any script count; thousands are grouped by "," or a space (German, Spanish, French, Russian also by
    "." — "1.234" is 1234 there and "2,5" is 2.5); a number word (0-20, the tens; the MGSM language or English) is
    read only when the searched text holds no digits.
    """
    text = ascii_digits(output)
    pattern = _number_pattern(lang)
    marker = NUMBER_MARKER.search(text)
    if marker:
        tail = text[marker.end() :]
        found = pattern.search(tail)
        words = _word_number(tail.split("\n\n")[0], lang, last=False)
        if found is not None and (words is None or found.start() <= _first_word_at(tail, words, lang)):
            return _value(found)
        if words is not None:
            return words
    numbers = list(pattern.finditer(text))
    if numbers:
        return _value(numbers[-1])
    return _word_number(text, lang, last=True)


def _first_word_at(text: str, value: float, lang: str) -> int:
    """Where the number word for `value` first starts in `text` (for ordering it against digits)."""
    words = [w for w, v in {**word_numbers("en"), **word_numbers(lang)}.items() if v == value]
    starts = [m.start() for w in words for m in re.finditer(re.escape(w), text.lower())]
    return min(starts, default=len(text))


# ---------------------------------------------------------------- CommonsenseQA
_REPEATED_INPUT = re.compile(r"^(?:Question|Choices)\s*:", re.IGNORECASE)
_EXPLANATION = re.compile(r"^\s*(?:#+\s*)?\**(?:explanation|reasoning|rationale|justification)\b", re.IGNORECASE)
_LABEL_ONLY = re.compile(r"[(\[]?([A-Za-z])[)\]]?[.:)]?")  # "B", "(b)", "B.", "[B]", "B:"
_LABEL_FIRST = re.compile(r"[(\[]?([A-Z])(?:[)\]]|[.:])")  # "B:library", "(B) library", "B. library"
_LABEL_ANYWHERE = re.compile(
    r"(?<![A-Za-z])[(\[]([A-Z])[)\]]|\b([A-Z])(?=[:)])"
    r"|\b(?i:but|choice|option|choose|pick|select|go with)\s+(?i:option\s+|answer\s+|choice\s+)?\(?([A-Z])\b"
)
_ANSWER_MARKER = re.compile(r"\b(?:answer|choice|option)\s*(?:is\b\s*:?|[:：])", re.IGNORECASE)


def choice_candidate(output: str) -> str:
    """The text that names a CommonsenseQA choice: after the last answer marker, else the last non-blank line that
    is not the repeated input ("Question:" / "Choices:") nor in a trailing explanation section; no emphasis."""
    lines = output.splitlines()
    cut = next((i for i, line in enumerate(lines) if i and _EXPLANATION.match(line)), len(lines))
    text = "\n".join(lines[:cut])
    found = list(_ANSWER_MARKER.finditer(text))
    if found:
        rest = [_clean(line) for line in text[found[-1].end() :].splitlines()]
        return next((line for line in rest if line), "")
    kept = [_clean(ln) for ln in text.splitlines() if _clean(ln) and not _REPEATED_INPUT.match(ln.strip())]
    return kept[-1] if kept else ""


def extract_choice(output: str, choices: Sequence[tuple[str, str]]) -> str | None:
    """The option label an output chooses, or None (blank output, only a repeat of the input, nothing recognisable).

    On `choice_candidate`, the first rule that yields one of the record's labels wins: (1) a lone label ("B",
    "(b)", "**B**"); (2) an upper-case label then a delimiter ("B:library"); (3) the label after "but", "option",
    "choose", "pick" … ("Both A and E fit, but E" → E), then an upper-case label in brackets or before ":" / ")";
    (4) the longest option text found as whole words in its SQuAD normalisation, if no other is as long.
    """
    labels = {label: normalize_answer(text) for label, text in choices}
    candidate = choice_candidate(output)
    if not candidate:
        return None
    lone = _LABEL_ONLY.fullmatch(candidate)
    first = _LABEL_FIRST.match(candidate)
    for label in (lone and lone[1].upper(), first and first[1]):
        if label in labels:
            return label
    found = [next(g for g in m.groups() if g) for m in _LABEL_ANYWHERE.finditer(candidate)]
    after_word = [m[3] for m in _LABEL_ANYWHERE.finditer(candidate) if m[3] in labels]
    for label in ([after_word[-1]] if after_word else []) + found:
        if label in labels:
            return label
    normalized = f" {normalize_answer(candidate)} "
    inside = [(len(text), label) for label, text in labels.items() if text and f" {text} " in normalized]
    longest = max(inside, default=(0, None))
    return longest[1] if [size for size, _ in inside].count(longest[0]) == 1 else None
