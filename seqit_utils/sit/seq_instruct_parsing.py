"""Parsers of Seq-Instruct replies (§2.2): the option an option-classification reply picks (`parse_option`) and the
new instruction a rewrite reply gives (`parse_new_instruction`, `unwrap`). Pure functions: an unusable reply is never
guessed at, it yields option D or None with a reason that starts with `FALLBACK`. The prompts whose answer format
they read are in `seqit_utils.sit.seq_instruct_prompts`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from seqit_utils.sit.seq_instruct_prompts import OPTIONS, check_options

FALLBACK = "fallback:"  # prefix of every reason that made a record hold (option D) instead of changing

# A verdict: "the option is: C", "Answer: (B)", "I choose D", "a suitable adaptation is to add a prefix task".
_VERDICT = re.compile(
    r"(?:\b(?:option|answer|choice|adaptation)\b[^.\n]{0,60}?\b(?:is|would be|will be|should be)\b"
    r"\s*(?:thus|therefore|clearly)?\s*:?|\b(?:option|answer|choice)\s*[:=]"
    r"|\b(?:choose|chose|select|selected|pick|picked|go with|going with))\s*(?:option\s*)?[(\[]?\s*"
    r"(?:(?:to\s+)?(?:add(?:ing)?\s+)?(?:an?\s+)?(?P<name>decompos\w*|prefix|suffix|hold|keep)"
    r"|(?P<letter>[A-Da-d])\b(?!['’-]))",
    re.IGNORECASE,
)
_NAMES = {"decompos": "A", "prefix": "B", "suffix": "C", "hold": "D", "keep": "D"}
_BARE = re.compile(r"\W*(?:(?i:option)\s*)?([A-Da-d])\W*")  # the whole reply: "B", "(C)", "Option B", "b."
_LABEL = re.compile(r"^\s*(?:(?i:option)\s*)?[(\[]?([A-D])[)\].:](?:\s|$)", re.MULTILINE)  # a line "B. Prefix"
_MENTION = re.compile(r"\b(?i:option)\s*[(\[]?([A-D])\b(?!['’-])")  # "(Option C)" in the reasoning


def _verdict_letter(text: str, match: re.Match[str]) -> str | None:
    if match["name"]:
        return next(v for k, v in _NAMES.items() if match["name"].lower().startswith(k))
    # A lower-case letter followed by a word is the article ("the answer is a suffix task"), not an option.
    if match["letter"].islower() and re.match(r"[)\]]?\s+\w", text[match.end() :]):
        return None
    return match["letter"].upper()


def parse_option(completion: str | None, allowed: Sequence[str] = OPTIONS) -> tuple[str, str]:
    """(option, reason) from an option-classification reply; the first rule that applies decides.

    1. `verdict`: the LAST explicit verdict, by letter or by name ("the option is: C", "Answer: (B)", "I choose D",
       "the best option for this instruction is to add a prefix task"), since a reply may weigh options before
       concluding; markdown marks are ignored. Loose mentions ("adding a prefix task could help") are not verdicts.
    2. `bare_letter`: the whole reply is one letter ("B", "**B**", "(C)", "Option B", "b.").
    3. `leading_letter`: the first line is labelled with a letter ("B. Add a prefix task") and no other line carries
       a different label (a restated option list is not an answer).
    4. `option_mention`: every "Option X" in the text names the same letter.
    Otherwise the record holds: ("D", "fallback:empty" | "fallback:ambiguous" (mentions of several letters) |
    "fallback:no_option"); a parsed letter outside `allowed` gives ("D", "fallback:not_allowed").
    """
    allowed, text = check_options(allowed), re.sub(r"[*_`]+", "", completion or "").strip()
    letter, reason = None, FALLBACK + ("empty" if not text else "no_option")
    verdicts = [v for v in (_verdict_letter(text, m) for m in _VERDICT.finditer(text)) if v]
    labels = [m[1] for m in _LABEL.finditer(text)]
    mentions = {m[1] for m in _MENTION.finditer(text)}
    if verdicts:
        letter, reason = verdicts[-1], "verdict"
    elif bare := _BARE.fullmatch(text):
        letter, reason = bare[1].upper(), "bare_letter"
    elif labels and _LABEL.match(text) and len(set(labels)) == 1:
        letter, reason = labels[0], "leading_letter"
    elif len(mentions) == 1:
        letter, reason = mentions.pop(), "option_mention"
    elif mentions:
        reason = FALLBACK + "ambiguous"
    if letter is None:
        return "D", reason
    return (letter, reason) if letter in allowed else ("D", FALLBACK + "not_allowed")


# "#New Instruction#:" with any spacing, case, extra '#' or markdown; see `_rank` for how markers are preferred.
_MARKER = re.compile(r"[*_]*(?P<hash>#+)?\s*\bnew\s*instruction\s*#*[*_]*\s*(?P<colon>:)?[*_]*", re.IGNORECASE)
_ECHO = re.compile(r"#\s*original\s*instruction\s*#", re.IGNORECASE)  # a replayed few-shot example header
_END = re.compile(r"#{3,}")
_OPEN, _CLOSE = "“\"‘「'", "”\"’」'"  # pairs by position; only the first two may dangle ("'" is also an apostrophe)


def _rank(marker: re.Match[str]) -> tuple[bool, bool]:
    """Sort key: "#New Instruction#:" first, then "#New Instruction#", then "New instruction:"."""
    return not marker["hash"], not marker["colon"]


def _wrapped(text: str) -> bool:
    """Whether the first and last characters are quotes enclosing the whole text (inner quotes balanced)."""
    if len(text) < 2 or text[0] not in _OPEN or text[-1] not in _CLOSE:
        return False
    inner, close = text[1:-1], text[-1]
    opener = _OPEN[_CLOSE.index(close)]
    if close not in inner or opener != close:
        return inner.count(opener) == inner.count(close)
    first = inner.index(close)  # straight quotes: the first inner one must open a quotation
    return inner.count(close) % 2 == 0 and (first == 0 or inner[first - 1] in " \t\n(:[")


def unwrap(text: str) -> str:
    """Strip whitespace, a markdown-bold wrapper and the quotes around a whole instruction (paired or dangling)."""
    text = text.strip()
    if len(text) > 4 and text.startswith("**") and text.endswith("**"):
        text = text[2:-2].strip()
    if _wrapped(text):
        return text[1:-1].strip()
    if text and text[0] in _OPEN[:2] and _CLOSE[_OPEN.index(text[0])] not in text[1:]:  # opening never closed
        text = text[1:].strip()
    if text and text[-1] in _CLOSE[:2] and _OPEN[_CLOSE.index(text[-1])] not in text[:-1]:  # closing never opened
        text = text[:-1].strip()
    return text


def _query_start(text: str, headers: list[re.Match[str]], original: str | None) -> int | None:
    """Where the answer to the query starts in a reply that replays the few-shot examples before it: at the
    "#Original Instruction#" header repeating `original`; without `original`, at the last header (the query comes
    last); None if `original` is given but no header repeats it (the reply never answered the query)."""
    if not original:
        return headers[-1].start()
    key = " ".join(original.split()).lower()[:80]
    for header in reversed(headers):
        if key in " ".join(text[header.end() : header.end() + 4 * len(key) + 200].split()).lower():
            return header.start()
    return None


def parse_new_instruction(completion: str | None, original: str | None = None) -> tuple[str | None, str]:
    """(new instruction, reason) from a rewrite reply: the text after "#New Instruction#:" up to "###".

    Markers rank "#New Instruction#:" > "#New Instruction#" > "New instruction:". A reply that replays the examples
    ("#Original Instruction#: ..." blocks) with several answers: only answers after the block repeating `original`
    count (reason `echo`; no such block: "fallback:echo_unmatched"; no `original`: the last block). After a marker of
    the best rank, the text ends at the first "###" (reason `ok`), else before the next marker and, if unquoted, at
    the first blank line (reason `unterminated`); a quoted text ends at its closing quote if a paragraph break
    follows. The first non-empty `ok` text wins, else the first non-empty one (a later mention in an explanation is
    not a second answer). Wrapping quotes and markdown are removed (`unwrap`). Other failures return None with
    "fallback:empty" | "fallback:no_marker" | "fallback:empty_instruction".
    """
    text = (completion or "").strip()
    if not text:
        return None, FALLBACK + "empty"
    markers = [m for m in _MARKER.finditer(text) if m["hash"] or m["colon"]]
    if not markers:
        return None, FALLBACK + "no_marker"
    headers, echo = list(_ECHO.finditer(text)), False
    if headers and len(markers) > 1:
        if (start := _query_start(text, headers, original)) is None:
            return None, FALLBACK + "echo_unmatched"
        echo = any(m.start() > start for m in markers) and any(m.start() < start for m in markers)
        markers = [m for m in markers if m.start() > start] or markers
    best, found = min(map(_rank, markers)), []
    for m in (m for m in markers if _rank(m) == best):
        after = [n.start() for n in markers if n.start() >= m.end()][:1]
        end = [e.start() for e in _END.finditer(text, m.end())][:1]
        if end and (not after or end[0] < after[0]):
            found.append((_trim(text[m.end() : end[0]], closed=True), "ok"))
        else:
            found.append((_trim(text[m.end() : after[0] if after else None], closed=False), "unterminated"))
    found = [(instruction, reason) for segment, reason in found if (instruction := unwrap(segment))]
    if not found:
        return None, FALLBACK + "empty_instruction"
    instruction, reason = min(found, key=lambda f: f[1] != "ok")  # the first one closed by "###", else the first
    return instruction, "echo" if echo else reason


def _trim(segment: str, closed: bool) -> str:
    """A quoted instruction ends at the closing quote that ends the text or a paragraph; an unclosed (no "###")
    unquoted one at the first blank line (what follows is explanation)."""
    segment = segment.strip()
    if segment and segment[0] in _OPEN[:2]:
        close = re.search(re.escape(_CLOSE[_OPEN.index(segment[0])]) + r"[ \t]*(?:\n\s*\n|$)", segment[1:])
        if close:
            return segment[: close.start() + 2]
    return segment if closed else re.split(r"\n\s*\n", segment, maxsplit=1)[0]
