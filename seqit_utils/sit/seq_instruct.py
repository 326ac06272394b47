"""Seq-Instruct (§2.2, App. B.4): an LLM turns single instructions into sequential ones, iteratively.

Per iteration and record: (1) the LLM picks an option — A decompose, B prefix task, C suffix task, D hold;
(2) for A/B/C it rewrites the instruction and ends with "#New Instruction#: ... ###"; (3) it answers the new
instruction. Iteration k's output is iteration k+1's input, and the number of records never changes.

Everything here is pure: prompts are built as OpenAI-style `messages`, replies are parsed by functions, and the
transport is a batch callable `complete(list_of_messages) -> list_of_replies` injected by the caller. An unusable
reply never stops the run and is never guessed at: the record holds (option D) and the reason is recorded and counted.

Entry points: `run_seq_instruct` (N iterations) and `seq_instruct_step` (one, e.g. with forced options for SeqEval);
`parse_option`, `parse_new_instruction`; the `build_*_messages` prompt builders. Statistics (parser agreement with the
authors' recorded outputs, Table 4) are in `seqit_utils.sit.seq_instruct_stats`. This module is longer than the ~300
lines STYLE.md aims for: ~100 lines are prompt text, kept as constants next to the parsers that read their format.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from seqit_utils.prompts import user_message

OPTIONS = ("A", "B", "C", "D")
CHOICES = ("llm", "uniform")  # who picks the option: the LLM (§2.2), or uniform sampling (SeqEval construction, §3)
FALLBACK = "fallback:"  # prefix of every reason that made a record hold (option D) instead of changing
Messages = list[dict[str, str]]
Complete = Callable[[list[Messages]], list[str]]

# ---------------------------------------------------------------- prompts (App. B.4 Fig. 3/4, in our own words)
_OPTION_TEXT = {
    "A": "Decompose: split the task into two or more smaller steps, done in order, whose last step gives the "
    "original answer.",
    "B": 'Prefix: add a new task done before the original one, whose result helps with it ("First ..., then '
    '<original task>").',
    "C": "Suffix: add a new task done after the original one, which builds on its result.",
    "D": "Hold: keep the instruction as it is (when it is already complete and extra steps would not help).",
}
_SYSTEM = "You turn single instructions into sequential ones. Follow the answer format of the examples exactly."
_OPTION_TASK = (
    "Read the instruction (and its input, if there is one) and decide how to turn it into a sequential instruction: "
    "one that asks for related tasks to be done one after another. Choose one of these options:\n{options}\n"
    'Give your reasoning in a few sentences, then end with "So the option is: <letter>."'
)
_REWRITE_TASK = (
    "Turn the original instruction into a sequential instruction: one instruction that asks for related tasks to be "
    "done one after another, using this option:\n{option}\nRules:\n"
    "- Keep every detail the original needs (options, numbers, names, code, tables, quoted text): the original "
    "instruction will not be shown again.\n"
    "- The last task must still produce what the original instruction asked for, in the same format.\n"
    '- Tasks that only say "read" or "understand" the given information do not count.\n'
    "- If there is an input, it will be given again with the new instruction; do not copy it.\n"
    "Explain your idea in a sentence or two, then write the result as\n#New Instruction#: <the new instruction>###"
)
# Few-shot examples written for this project, one per option (Fig. 3) and two per rewrite option (Fig. 4).
_OPTION_SHOTS = {
    "A": """Instruction: Write a short cover letter for a junior data analyst position.
Reasoning: A good letter depends on knowing what to highlight, so the task splits into two steps: first list the \
skills a junior data analyst should show, then write the letter around them.
So the option is: A.""",
    "B": """Instruction: Translate the sentence into French.
Input: The museum opens at nine and closes at six.
Reasoning: A useful task before translating is to pick out the time expressions, since French writes times \
differently; the translation then builds on that list.
So the option is: B.""",
    "C": """Instruction: Name the largest planet in the solar system.
Reasoning: The answer is a single word; a follow-up task can build on it, for example giving two facts that \
explain why that planet is so large.
So the option is: C.""",
    "D": """Instruction: Convert 25 degrees Celsius to Fahrenheit.
Reasoning: This is one precise calculation with a single correct answer; extra steps would add nothing useful.
So the option is: D.""",
}
_REWRITE_SHOTS = {
    "A": (
        """#Original Instruction#: Explain how a bill becomes law in the United States.
Reasoning: The explanation is easier to follow in two steps: the stages first, then what happens at each.
#New Instruction#: List the main stages a bill passes through in the U.S. Congress, then explain what happens at \
each stage until it becomes law.###""",
        """#Original Instruction#: Plan a three-day trip to Rome for a first-time visitor.
Reasoning: A plan is built from a shortlist: choose the sights first, then arrange them into days.
#New Instruction#: Pick the eight sights a first-time visitor to Rome should not miss, then arrange them into a \
three-day itinerary with a morning and an afternoon plan for each day.###""",
    ),
    "B": (
        """#Original Instruction#: Summarize the paragraph in one sentence.
#Input#: Solar panels turn sunlight into electricity. Their price fell by about 90% in ten years, so many \
households now install them on their roofs.
Reasoning: Picking out the key facts first gives the summary a solid basis.
#New Instruction#: Identify the two most important facts in the paragraph, then summarize the paragraph in one \
sentence that includes both.###""",
        """#Original Instruction#: Suggest a name for a bakery that sells only gluten-free bread.
Reasoning: Collecting words tied to the theme first leads to better names.
#New Instruction#: Write down five words associated with fresh bread or gluten-free baking, then combine some of \
them into a name for a bakery that sells only gluten-free bread.###""",
    ),
    "C": (
        """#Original Instruction#: Write a haiku about autumn rain.
Reasoning: A follow-up task can use the poem just written, for example by explaining one of its images.
#New Instruction#: Write a haiku about autumn rain, then explain in one sentence which image in your haiku sets \
its mood.###""",
        """#Original Instruction#: Sort the numbers in ascending order.
#Input#: 42, 7, 19, 3, 88
Reasoning: Once the list is sorted, a natural next step uses it: report its median.
#New Instruction#: Sort the numbers in ascending order, then state the median of the sorted list.###""",
    ),
}


def check_options(allowed: Sequence[str], *, key: str = "allowed_options") -> tuple[str, ...]:
    """`allowed` as a sorted tuple of unique option letters; ValueError naming `key` otherwise."""
    letters = tuple(allowed)
    if not letters or any(o not in OPTIONS for o in letters) or len(set(letters)) != len(letters):
        raise ValueError(f"{key} = {list(letters)!r}: give unique letters from {', '.join(OPTIONS)}")
    return tuple(sorted(letters))


def _as_rng(rng: random.Random | int | str) -> random.Random:
    return rng if isinstance(rng, random.Random) else random.Random(rng)


def _query(instruction: str, input: str, labels: tuple[str, str]) -> str:
    return f"{labels[0]} {instruction}\n" + (f"{labels[1]} {input}\n" if input else "") + "Reasoning:"


def build_option_messages(
    instruction: str, input: str = "", *, allowed: Sequence[str] = OPTIONS, rng: random.Random | int | str
) -> Messages:
    """Fig. 3: ask which option fits; only `allowed` options and their examples are shown, shuffled by `rng`."""
    allowed = check_options(allowed)
    shots = [_OPTION_SHOTS[o] for o in allowed]
    _as_rng(rng).shuffle(shots)
    task = _OPTION_TASK.format(options="\n".join(f"{o}. {_OPTION_TEXT[o]}" for o in allowed))
    user = "\n\n".join([task, *shots, _query(instruction, input, ("Instruction:", "Input:"))])
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def build_rewrite_messages(
    instruction: str, input: str = "", *, option: str, rng: random.Random | int | str
) -> Messages:
    """Fig. 4: rewrite for option A, B or C, ending with "#New Instruction#: ... ###"; examples shuffled by `rng`."""
    if option not in _REWRITE_SHOTS:
        raise ValueError(f"option = {option!r}: a rewrite prompt exists for A, B and C only (D keeps the instruction)")
    shots = list(_REWRITE_SHOTS[option])
    _as_rng(rng).shuffle(shots)
    task = _REWRITE_TASK.format(option=f"{option}. {_OPTION_TEXT[option]}")
    user = "\n\n".join([task, *shots, _query(instruction, input, ("#Original Instruction#:", "#Input#:"))])
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def build_response_messages(instruction: str, input: str = "") -> Messages:
    """§2.2: the same LLM answers the (new) instruction, input appended as in `prompts.user_message`."""
    return [{"role": "user", "content": user_message(instruction, input)}]


# ---------------------------------------------------------------- parsers
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


# ---------------------------------------------------------------- the iteration driver
class SeqInstructRun(NamedTuple):
    records_by_iteration: list[list[dict[str, Any]]]  # [k - 1] = the records after iteration k
    summary: dict[str, Any]


def _per_iteration(allowed_options: Sequence[str] | Sequence[Sequence[str]], iterations: int) -> list[tuple[str, ...]]:
    if isinstance(allowed_options, str) or all(isinstance(o, str) and len(o) == 1 for o in allowed_options):
        return [check_options(allowed_options)] * iterations  # one set for every iteration
    if len(allowed_options) != iterations:
        raise ValueError(f"allowed_options has {len(allowed_options)} sets for {iterations} iterations; give one set")
    return [check_options(o, key=f"allowed_options[{k}]") for k, o in enumerate(allowed_options)]


def ask(complete: Complete, requests: list[Messages], step: str) -> list[str]:
    """One batch call of `complete`: the reply texts in request order ("" for a failed request); a reply count
    that does not match the requests is an error naming `step`."""
    if not requests:
        return []
    replies = list(complete(requests))
    if len(replies) != len(requests):
        raise ValueError(f"complete() returned {len(replies)} replies for {len(requests)} {step} requests")
    # Strings, or results with `.text` (`seqit_utils.llm.client.Result`); a failed request (None) counts as an empty
    # reply.
    replies = [getattr(r, "text", r) for r in replies]
    return ["" if r is None else str(r) for r in replies]


def seq_instruct_step(
    records: Sequence[dict[str, Any]],
    complete: Complete,
    *,
    iteration: int = 1,
    allowed_options: Sequence[str] = OPTIONS,
    seed: int = 0,
    options: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """One Seq-Instruct iteration over records with `instruction` (+ `input`, `output`, `id`): pick an option (asked
    of the LLM among `allowed_options`, or `options` given per record, reason "given"), rewrite, answer. The `id` is
    kept; see `run_seq_instruct` for the provenance fields. At most three batch calls of `complete`."""
    allowed = check_options(allowed_options)
    current = [
        {**r, "source_id": str(r.get("source_id") or r.get("id", f"record/{i}")), "input": r.get("input") or ""}
        for i, r in enumerate(records)
    ]
    rngs = [
        {s: random.Random(f"{seed}/{iteration}/{r['source_id']}/{s}") for s in ("option", "rewrite")} for r in current
    ]
    if options is not None:
        if len(options) != len(current) or any(o not in OPTIONS for o in options):
            raise ValueError(f"options: give one of {', '.join(OPTIONS)} per record ({len(current)} records)")
        raw_options, picks = [None] * len(current), [(o, "given") for o in options]
    else:
        requests = [
            build_option_messages(r["instruction"], r["input"], allowed=allowed, rng=g["option"])
            for r, g in zip(current, rngs, strict=True)
        ]
        raw_options = ask(complete, requests, "option")
        picks = [parse_option(c, allowed) for c in raw_options]
    todo = [i for i, (option, _) in enumerate(picks) if option != "D"]
    requests = [
        build_rewrite_messages(
            current[i]["instruction"], current[i]["input"], option=picks[i][0], rng=rngs[i]["rewrite"]
        )
        for i in todo
    ]
    raw_rewrites = dict(zip(todo, ask(complete, requests, "rewrite"), strict=True))
    rewrites = {i: parse_new_instruction(c, current[i]["instruction"]) for i, c in raw_rewrites.items()}
    todo = [i for i, (new, _) in rewrites.items() if new is not None]
    requests = [build_response_messages(rewrites[i][0], current[i]["input"]) for i in todo]
    raw_responses = dict(zip(todo, ask(complete, requests, "response"), strict=True))
    step = []
    for i, parent in enumerate(current):
        new, new_reason = rewrites.get(i, (None, None))
        response = raw_responses.get(i)
        response_reason = None if response is None else ("ok" if response.strip() else FALLBACK + "empty")
        changed = response_reason == "ok"
        step.append({
            "id": parent.get("id", parent["source_id"]),
            "source_id": parent["source_id"],
            "iteration": iteration,
            "instruction": new if changed else parent["instruction"],
            "input": parent["input"],
            "output": response.strip() if changed else parent.get("output") or "",
            "option": picks[i][0] if changed else "D",
            "proposed_option": picks[i][0],
            "parent_instruction": parent["instruction"],
            "completions": {"option": raw_options[i], "rewrite": raw_rewrites.get(i), "response": response},
            "reasons": {"option": picks[i][1], "instruction": new_reason, "response": response_reason},
        })  # fmt: skip
    return step


def run_seq_instruct(
    records: Sequence[dict[str, Any]],
    complete: Complete,
    *,
    iterations: int = 2,
    allowed_options: Sequence[str] | Sequence[Sequence[str]] = OPTIONS,
    seed: int = 0,
    choose: str = "llm",
) -> SeqInstructRun:
    """Run Seq-Instruct for `iterations` rounds (§2.2; the paper uses 2, SeqEval 4) over records with `instruction`
    (+ `input`, `output`, `id`). `complete` answers a batch of message lists with one reply each (strings, or results
    with `.text` such as `seqit_utils.llm.client.Result`); three batch calls per iteration. `allowed_options`: one
    set for
    all iterations, or one per iteration (SeqEval: [ABC, BC, BC, BC]). `choose="uniform"` samples the option from the
    allowed set (seeded) instead of asking the LLM (SeqEval, §3) and passes it to `seq_instruct_step` as given.

    Every output record keeps its `id` and its provenance: `source_id`, `iteration`, `option` (as applied: D when
    held), `proposed_option`, `parent_instruction`, the raw `completions` and the parse `reasons` per step. A record
    holds (keeps instruction and output) on option D or when a rewrite or response is unusable; the reason is counted.
    """
    if choose not in CHOICES:
        raise ValueError(f"choose = {choose!r}; allowed values: {', '.join(CHOICES)}")
    if iterations < 1:
        raise ValueError(f"iterations = {iterations}; give at least 1")
    current, by_iteration = list(records), []
    for k, allowed in enumerate(_per_iteration(allowed_options, iterations), start=1):
        options = None
        if choose == "uniform":
            ids = [str(r.get("source_id") or r.get("id", f"record/{i}")) for i, r in enumerate(current)]
            options = [random.Random(f"{seed}/{k}/{sid}/sample").choice(allowed) for sid in ids]
        current = seq_instruct_step(
            current, complete, iteration=k, allowed_options=allowed, seed=seed, options=options
        )
        by_iteration.append(current)
    return SeqInstructRun(by_iteration, summarize_run(by_iteration))


def summarize_run(records_by_iteration: Sequence[Sequence[dict[str, Any]]]) -> dict[str, Any]:
    """Per iteration and in total: records, applied and proposed options, and fallbacks by "<step>:<reason>"."""
    per_iteration, totals = [], {"options": Counter(), "proposed_options": Counter(), "fallbacks": Counter()}
    for records in records_by_iteration:
        counts = {
            "options": Counter(r["option"] for r in records),
            "proposed_options": Counter(r["proposed_option"] for r in records),
            "fallbacks": Counter(
                f"{step}:{reason.removeprefix(FALLBACK)}"
                for r in records
                for step, reason in r["reasons"].items()
                if reason and reason.startswith(FALLBACK)
            ),
        }
        for key, counter in counts.items():
            totals[key] += counter
        iteration = records[0]["iteration"] if records else len(per_iteration) + 1
        per_iteration.append({"iteration": iteration, "n": len(records), **_plain(counts)})
    return {"iterations": per_iteration, **_plain(totals)}


def _plain(counts: dict[str, Counter]) -> dict[str, dict[str, int]]:
    return {
        key: {o: c[o] for o in OPTIONS} if "options" in key else dict(sorted(c.items())) for key, c in counts.items()
    }
