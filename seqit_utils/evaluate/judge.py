"""LLM-as-judge for SeqEval (§3, App. B.5; Table 5 SeqEval columns, Table 13 / Figure 2): prompts, parsers, scores.

Single answer: the judge reads an instruction and a response and ends its reply with "[[answered, rating]]":
answered = Yes if every part of the (sequential) instruction got an answer, else No; rating = quality 1-5.
Pairwise: the judge compares two responses and ends with "[[A]]", "[[B]]" or "[[tie]]"; `win_rate` asks for both
orders of every pair to cancel position bias.

The prompts are ours (the paper's Fig. 5 asks for the same two judgements). Building messages and parsing replies
are pure; the transport is an injected batch callable `complete(list_of_message_lists) -> list_of_reply_strings`
(e.g. an OpenAI-compatible client with temperature 0 and a cache). A reply that cannot be parsed is counted with a
reason and left out of the rates: it is never guessed.

Parsing rule: every "[[...]]" group without inner brackets is a candidate; candidates whose content has the
verdict's shape (single answer: Yes/No, then a number; pairwise: A, B or tie) are verdicts. Single answer: the FIRST
verdict wins: what follows a verdict is a format reminder ("answer in the form [[Yes, 5]]"), quoted code or
commentary, not a revision. Case, spaces, a comma (also full-width "，"), semicolon, colon or dash between the
fields ("[[Yes-4]]" is 4, not -4), a "rating:" label, a trailing "." or "/5" / "out of 5", and markdown emphasis
inside the brackets are tolerated. If the first verdict is invalid (rating outside 1-5, or not a whole number) the
reply is unparseable: no fall-back to a later one. Pairwise: the last verdict wins (see `parse_preference`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

Messages = list[dict[str, str]]
Complete = Callable[[list[Messages]], list[str]]

JUDGE_SYSTEM = "You are a careful and impartial evaluator of answers written by AI assistants."

# App. B.5 (Fig. 5), in our words: completeness of a sequential instruction + overall quality.
SINGLE_TEMPLATE = """\
Evaluate the AI assistant's response to the user instruction below.

The instruction may ask for several things, possibly one after another. First decide whether the response \
addresses every one of them: answer Yes if each part receives an answer (even a short or imperfect one), and No if \
any part is skipped. Then rate the overall quality of the response (helpfulness, correctness, depth and clarity) \
with a whole number from 1 (very poor) to 5 (excellent).

Explain your judgement briefly. Then end your reply with a line in exactly this form: [[answered, rating]], where \
answered is Yes or No and rating is a whole number from 1 to 5, for example [[Yes, 4]] or [[No, 2]].

### Instruction
{instruction}

### Response
{response}

### End of response"""

PAIRWISE_TEMPLATE = """\
Compare two AI assistants' responses to the user instruction below and decide which one is better.

Judge how completely each response addresses every part of the instruction, and how helpful, correct, deep and \
clear it is. The order in which the responses are shown and their length must not influence you.

Explain your judgement briefly. Then end your reply with exactly one of these verdicts: [[A]] if response A is \
better, [[B]] if response B is better, [[tie]] if they are equally good.

### Instruction
{instruction}

### Response A
{response_a}

### Response B
{response_b}

### End of responses"""

_GROUP = re.compile(r"\[\[([^\[\]]*)\]\]")
_SINGLE = re.compile(
    r"(yes|no)\s*[,;:，、\-–—]?\s*(?:rating\s*[:=]?\s*)?(\d+(?:\.\d+)?)\s*(?:/\s*5|out of 5)?\s*\.?", re.IGNORECASE
)
_PAIRWISE = re.compile(r"a|b|tie", re.IGNORECASE)
_DECORATION = re.compile(r"[*_`'\"]")  # markdown emphasis and quotes a judge may put inside the brackets

# Reasons a reply is unparseable (counted in the summaries).
EMPTY, NO_VERDICT, MALFORMED, OUT_OF_RANGE, NOT_INTEGER = (
    "empty reply",
    "no [[...]] verdict",
    "malformed verdict",
    "rating outside 1-5",
    "rating not a whole number",
)


@dataclass(frozen=True)
class Verdict:
    """A parsed single-answer reply: `answered` and `rating` are None exactly when `reason` says why."""

    answered: bool | None
    rating: int | None
    reason: str | None = None
    reply: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class Preference:
    """A parsed pairwise reply: `choice` is "A", "B" or "tie", or None exactly when `reason` says why."""

    choice: str | None
    reason: str | None = None
    reply: str = ""


def _messages(user: str) -> Messages:
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


def single_messages(instruction: str, response: str) -> Messages:
    """OpenAI-style messages asking the judge for "[[answered, rating]]" on one response (App. B.5)."""
    return _messages(SINGLE_TEMPLATE.format(instruction=instruction.strip(), response=response.strip()))


def pairwise_messages(instruction: str, response_a: str, response_b: str) -> Messages:
    """OpenAI-style messages asking the judge for "[[A]]", "[[B]]" or "[[tie]]"."""
    text = PAIRWISE_TEMPLATE.format(
        instruction=instruction.strip(), response_a=response_a.strip(), response_b=response_b.strip()
    )
    return _messages(text)


def _verdict(reply: str, shape: re.Pattern[str], *, first: bool) -> tuple[re.Match[str] | None, str | None]:
    """The first (else the last) "[[...]]" group of `reply` whose cleaned content fully matches `shape`, or None and
    a reason."""
    if not reply or not reply.strip():
        return None, EMPTY
    groups = _GROUP.findall(reply)
    matches = [m for m in (shape.fullmatch(_DECORATION.sub("", g).strip()) for g in groups) if m]
    if matches:
        return matches[0 if first else -1], None
    return None, MALFORMED if groups else NO_VERDICT


def parse_verdict(reply: str) -> Verdict:
    """Parse "[[Yes, 4]]"-style replies (rule in the module docstring); invalid ones get a `reason`."""
    match, reason = _verdict(reply, _SINGLE, first=True)
    if match is None:
        return Verdict(None, None, reason, reply)
    number = float(match[2])
    if number != int(number):
        return Verdict(None, None, NOT_INTEGER, reply)
    if not 1 <= number <= 5:
        return Verdict(None, None, OUT_OF_RANGE, reply)
    return Verdict(match[1].lower() == "yes", int(number), None, reply)


def parse_preference(reply: str) -> Preference:
    """Parse "[[A]]" / "[[B]]" / "[[tie]]" replies (case-insensitive; the LAST verdict wins: a pairwise judge often
    lists the three options before deciding)."""
    match, reason = _verdict(reply, _PAIRWISE, first=False)
    if match is None:
        return Preference(None, reason, reply)
    choice = match[0].lower()
    return Preference("tie" if choice == "tie" else choice.upper(), None, reply)


def _call(complete: Complete, requests: list[Messages]) -> list[str]:
    replies = complete(requests) if requests else []
    if not isinstance(replies, list | tuple) or len(replies) != len(requests):
        got = len(replies) if isinstance(replies, list | tuple) else type(replies).__name__
        raise ValueError(f"complete() returned {got} replies for {len(requests)} requests")
    for i, reply in enumerate(replies):
        if not isinstance(reply, str):
            raise ValueError(f"complete() reply {i} is {type(reply).__name__}, expected str")
    return list(replies)


def _same_length(**named: Sequence[Any]) -> int:
    lengths = {name: len(values) for name, values in named.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"inputs differ in length: {lengths}")
    return next(iter(lengths.values()))


def judge_single(instructions: Sequence[str], responses: Sequence[str], complete: Complete) -> list[Verdict]:
    """Judge every (instruction, response) pair with one batch call to `complete`; one `Verdict` each."""
    _same_length(instructions=instructions, responses=responses)
    requests = [single_messages(i, r) for i, r in zip(instructions, responses, strict=True)]
    return [parse_verdict(reply) for reply in _call(complete, requests)]


def summarize(verdicts: Sequence[Verdict]) -> dict[str, Any]:
    """Table 5 SeqEval columns: `score` (mean rating 1-5) and `follow_rate` (share answered Yes) over the parsed
    verdicts (None if none parsed), plus `n`, `n_parsed`, `n_unparseable` and `unparseable_reasons`."""
    parsed = [v for v in verdicts if v.ok]
    reasons = Counter(v.reason for v in verdicts if not v.ok)
    return {
        "n": len(verdicts),
        "n_parsed": len(parsed),
        "n_unparseable": len(verdicts) - len(parsed),
        "unparseable_reasons": dict(sorted(reasons.items())),
        "score": sum(v.rating for v in parsed) / len(parsed) if parsed else None,
        "follow_rate": sum(bool(v.answered) for v in parsed) / len(parsed) if parsed else None,
    }


def summarize_by(verdicts: Sequence[Verdict], groups: Sequence[Hashable]) -> dict[Hashable, dict[str, Any]]:
    """`summarize` per group, groups in sorted order. With SeqEval's `iteration` (the number of Seq-Instruct rounds,
    a proxy for the number of tasks) as the group, this is the data of Table 13 / Figure 2."""
    _same_length(verdicts=verdicts, groups=groups)
    members: dict[Hashable, list[Verdict]] = {}
    for verdict, group in zip(verdicts, groups, strict=True):
        members.setdefault(group, []).append(verdict)
    return {group: summarize(members[group]) for group in sorted(members)}


# Both-order pairwise outcome from the model's side: (choice with the model as A, choice with the model as B).
WIN, LOSS, TIE, INCONSISTENT = "win", "loss", "tie", "inconsistent"
_POINTS = {WIN: 1.0, LOSS: 0.0, TIE: 0.5, INCONSISTENT: 0.5}


def combine_orders(model_first: Preference, model_second: Preference) -> tuple[str | None, str | None]:
    """(outcome, reason) of one item judged in both orders: `model_first` shows the model's output as A.

    Rule: both orders prefer the model -> "win" (1 point); both prefer the reference -> "loss" (0); one prefers the
    model and the other the reference -> "inconsistent" (0.5, pure position bias); any other pair, i.e. at least one
    tie -> "tie" (0.5). Either reply unparseable -> outcome None with that reply's reason (item left out).
    """
    for preference, order in ((model_first, "model as A"), (model_second, "model as B")):
        if preference.choice is None:
            return None, f"{order}: {preference.reason}"
    first = {"A": WIN, "B": LOSS, "tie": TIE}[model_first.choice]
    second = {"B": WIN, "A": LOSS, "tie": TIE}[model_second.choice]
    if first == second:
        return first, None
    return (INCONSISTENT if {first, second} == {WIN, LOSS} else TIE), None


def win_rate(
    instructions: Sequence[str], outputs: Sequence[str], references: Sequence[str], complete: Complete
) -> dict[str, Any]:
    """Win rate of `outputs` against `references` (e.g. AlpacaEval's recorded GPT-4 outputs), position-debiased.

    Every item is judged twice in one batch call (model as A, then model as B) and scored by `combine_orders`;
    `win_rate` is the mean score over the items with both replies parsed (None if none). Also returns `n`,
    `n_scored`, the outcome counts (`wins`, `losses`, `ties`, `inconsistent`), `n_unparseable`,
    `unparseable_reasons` and `outcomes` (one per item, None where unparseable).
    """
    n = _same_length(instructions=instructions, outputs=outputs, references=references)
    requests = [pairwise_messages(i, o, r) for i, o, r in zip(instructions, outputs, references, strict=True)]
    requests += [pairwise_messages(i, r, o) for i, o, r in zip(instructions, outputs, references, strict=True)]
    preferences = [parse_preference(reply) for reply in _call(complete, requests)]
    combined = [combine_orders(preferences[i], preferences[n + i]) for i in range(n)]
    outcomes = [outcome for outcome, _ in combined]
    scored = [_POINTS[outcome] for outcome in outcomes if outcome is not None]
    counts = Counter(outcome for outcome in outcomes if outcome is not None)
    reasons = Counter(reason for outcome, reason in combined if outcome is None)
    return {
        "win_rate": sum(scored) / len(scored) if scored else None,
        "n": n,
        "n_scored": len(scored),
        "wins": counts[WIN],
        "losses": counts[LOSS],
        "ties": counts[TIE],
        "inconsistent": counts[INCONSISTENT],
        "n_unparseable": n - len(scored),
        "unparseable_reasons": dict(sorted(reasons.items())),
        "outcomes": outcomes,
    }
