"""The suite generator: a deterministic program that answers Seq-Instruct's prompts for task-suite instructions.

It stands in for Llama-3-70B-Instruct (the paper's Seq-Instruct generator, §2.2 and Table 4) the way the tiny model
stands in for Llama-3-8B: no LLM that can read Seq-Instruct's few-shot prompts runs on a laptop CPU, so the miniature
needs a generator that does, with known answers. Served behind an OpenAI-compatible endpoint
(`seqit_utils.llm.suite_server`), it receives the project's own prompts (`seqit_utils.sit.seq_instruct_prompts`),
which our parsers and iteration driver then read exactly as they would a real LLM's replies:

- option choice (App. B.4 Fig. 3): picks A decompose / B prefix / C suffix / D hold with configurable rates, separate
  for single and for already-sequential instructions (defaults: the paper's Table 4, Alpaca, iterations 1 and 2),
  among the options the instruction allows (A only where a step has a known decomposition: first = reverse → last,
  last = reverse → first, max = sort → last, min = sort → first), and ends with "So the option is: X.";
- rewrite (Fig. 4): composes suite tasks into a new chain in the suite's own wording (`tasks.instruction_for`),
  ending with "#New Instruction#: ... ###"; an option that does not fit gets a reply without a new instruction;
- answer (§2.2): the suite's ground truth, one line per step (`tasks.run_chain`);
- split (§5.1 SIT-split, `seqit_utils.sit.ablations.build_split_messages`): a chain's steps, each a single-task
  instruction in the suite's wording with its ground-truth output.
A prompt it does not recognise gets what an LLM might say: option D, no rewrite, or a plain sentence; never an error.
Every random choice draws from `random.Random` seeded by (generator seed, hash of the request): the same request
always gets the same reply, so replies are deterministic and cacheable.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from seqit_utils.data import tasks
from seqit_utils.io import stable_hash

VERSION = 2  # part of the model name: bump when a reply to the same request changes (the request cache keys on it)
STANDS_IN_FOR = "Llama-3-70B-Instruct"
OPTIONS = ("A", "B", "C", "D")
# Table 4, Alpaca seed data, Llama-3-70B-Instruct as generator: option shares of iterations 1 and 2 (in %).
PAPER_SINGLE_RATES = {"A": 7.4, "B": 51.2, "C": 24.5, "D": 16.9}
PAPER_SEQUENTIAL_RATES = {"A": 30.4, "B": 3.8, "C": 2.8, "D": 63.0}
DECOMPOSITIONS = {"first": ("reverse", "last"), "last": ("reverse", "first"), "max": ("sort", "last")}
DECOMPOSITIONS |= {"min": ("sort", "first")}
MAX_STEPS = 4
# Where the project's prompts are recognised; `tests/test_suite_generator.py` checks that the builders of
# seq_instruct_prompts produce prompts with these markers, so a change of the prompts fails a test instead of silently
# holding everything.
OPTION_MARKER = 'end with "So the option is: <letter>."'
REWRITE_MARKER = "#New Instruction#: <the new instruction>###"
SPLIT_MARKER = "#Step 1 Instruction#: <instruction>"  # §5.1 SIT-split's request (`sit.ablations.build_split_messages`)
_SPLIT_QUERY = re.compile(r"#Instruction#: (?P<instruction>.*)\n#Input#: (?P<input>.*)\n#Response#: ", re.S)
# The query is the prompt's last paragraph (`seq_instruct_prompts._query`); instruction and input are single lines.
_OPTION_QUERY = re.compile(r"Instruction: (?P<instruction>.*)\n(?:Input: (?P<input>.*)\n)?Reasoning:\s*")
_REWRITE_QUERY = re.compile(r"#Original Instruction#: (?P<instruction>.*)\n(?:#Input#: (?P<input>.*)\n)?Reasoning:\s*")
_ALLOWED = re.compile(r"^([A-D])\. (?:Decompose|Prefix|Suffix|Hold):", re.M)
_REWRITE_OPTION = re.compile(r"using this option:\n([A-D])\.")
_REASONS = {
    "A": "One step of this instruction can be split into smaller steps done in order, whose last step gives the "
    "same result.",
    "B": "A task done first on the same input gives an intermediate result that the original task can then work on.",
    "C": "The result is a list or an item that a further task can build on.",
    "D": "The instruction is already complete; extra steps would add nothing useful.",
}
_NO_FIT = {
    "A": "None of the steps of this instruction splits into smaller steps that keep its answer.",
    "B": "No task done first fits this input and the original task.",
    "C": "No further task fits the result of this instruction.",
}
PLAIN_REPLY = "I could not work out what this asks me to do; could you rephrase the instruction?"


# ---------------------------------------------------------------- reading the suite's wording back into tasks
def _clauses(position: int) -> dict[str, str]:
    table: dict[str, str] = {}
    for name, task in tasks.TASKS.items():
        for phrasing in task.phrasings:
            table.setdefault(phrasing[position], name)
    return table


FIRST_CLAUSES = _clauses(0)  # "sort the items" -> sort: the first step, or a single-step instruction
LATER_CLAUSES = _clauses(1) | FIRST_CLAUSES  # "sort them" -> sort; manual SIT puts a first-position clause later


def parse_suite_instruction(text: str) -> list[str] | None:
    """The task chain of an instruction in the suite's wording (`tasks.instruction_for`, any of `tasks.CONNECTIVES`;
    also manual SIT's "First <clause>, then <single-step instruction>"), or None if it is not one."""
    text = " ".join(text.split())
    for clause, name in FIRST_CLAUSES.items():
        if text == clause[0].upper() + clause[1:] + ".":
            return [name]
    for opening, middle, last in tasks.CONNECTIVES:
        head = opening.format("")
        rest = text[len(head) :] if text.startswith(head) else None
        for clause, name in FIRST_CLAUSES.items() if rest is not None else ():
            if rest.startswith(clause) and (tail := _rest(rest[len(clause) :], middle, last)):
                return [name, *tail]
    return None


def _rest(text: str, middle: str, last: str) -> list[str] | None:
    """The tasks of the clauses after the first: zero or more `middle` clauses, then one `last` clause and "."."""
    for sep, final in ((last.format(""), True), (middle.format(""), False)):
        if not text.startswith(sep):
            continue
        body = text[len(sep) :]
        for clause, name in LATER_CLAUSES.items():
            body_lower = body[:1].lower() + body[1:]  # "Then sort them." after ". "
            if final and body_lower == clause + ".":
                return [name]
            if not final and body_lower.startswith(clause) and (tail := _rest(body[len(clause) :], middle, last)):
                return [name, *tail]
    return None


def _runs(names: Sequence[str], text: str) -> bool:
    """Whether the chain is well-typed on `text` as the suite types chains (after a one-item result only element-wise
    tasks follow), keeps every list non-empty, has no task twice in a row and at most `MAX_STEPS` steps."""
    if not names or len(names) > MAX_STEPS or any(a == b for a, b in itertools.pairwise(names)):
        return False
    try:
        kind = tasks.base_kind(text)
        for name in names:
            kind = tasks.TASKS[name].signature[kind]
        tasks.run_chain(names, text)
    except (KeyError, ValueError):
        return False
    return True


def candidates(names: Sequence[str], text: str, option: str) -> list[list[str]]:
    """The chains option `option` can turn `names` into on input `text` (empty: the option does not fit)."""
    names = list(names)
    if option == "A":  # §2.2 decompose: one step becomes two whose last gives the same result
        found = [names[:k] + list(DECOMPOSITIONS[n]) + names[k + 1 :] for k, n in enumerate(names)
                 if n in DECOMPOSITIONS]  # fmt: skip
        gold = tasks.run_chain(names, text)[-1]
        return [c for c in found if _runs(c, text) and tasks.run_chain(c, text)[-1] == gold]
    if option == "B":  # prefix: a new task before the original ones
        return [c for c in ([p, *names] for p in tasks.TASK_NAMES) if _runs(c, text)]
    if option == "C":  # suffix: a new task on the original result
        return [c for c in ([*names, s] for s in tasks.TASK_NAMES) if _runs(c, text)]
    return [names] if option == "D" else []


def _weights(rates: Mapping[str, float], key: str) -> dict[str, float]:
    if not isinstance(rates, Mapping) or set(rates) - set(OPTIONS):
        raise ValueError(f"{key} = {rates!r}: give a mapping from option letters {', '.join(OPTIONS)} to rates")
    weights = {o: float(rates.get(o, 0.0)) for o in OPTIONS}
    if any(w < 0 for w in weights.values()) or not sum(weights.values()) > 0:
        raise ValueError(f"{key} = {dict(rates)!r}: rates must be >= 0 with a positive sum")
    return {o: w / sum(weights.values()) for o, w in weights.items()}


# ---------------------------------------------------------------- the generator
@dataclass(frozen=True)
class SuiteGenerator:
    """Replies to Seq-Instruct's prompts for suite instructions; see the module docstring. `single_rates` and
    `sequential_rates` (option -> rate, normalised; missing options 0) apply to one-step and multi-step
    instructions."""

    single_rates: Mapping[str, float] = field(default_factory=lambda: dict(PAPER_SINGLE_RATES))
    sequential_rates: Mapping[str, float] = field(default_factory=lambda: dict(PAPER_SEQUENTIAL_RATES))
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "single_rates", _weights(self.single_rates, "single_rates"))
        object.__setattr__(self, "sequential_rates", _weights(self.sequential_rates, "sequential_rates"))

    @classmethod
    def from_rates(cls, rates: Mapping[str, Any] | None = None, seed: int = 0) -> SuiteGenerator:
        """From one option -> rate mapping for every instruction, or {"single": {...}, "sequential": {...}}; None:
        the paper's Table 4 shares."""
        if rates is None:
            return cls(seed=seed)
        if set(rates) <= {"single", "sequential"} and rates:
            return cls(rates.get("single", PAPER_SINGLE_RATES), rates.get("sequential", PAPER_SEQUENTIAL_RATES), seed)
        return cls(rates, rates, seed)

    @property
    def model(self) -> str:
        """The model name in every reply: says what it stands in for, and (hash) which rates and seed it uses."""
        key = stable_hash({"v": VERSION, "single": self.single_rates, "seq": self.sequential_rates, "seed": self.seed})
        return f"suite-generator-v{VERSION}-{key[:8]} (stands in for {STANDS_IN_FOR})"

    def option_probabilities(self, instruction: str, input: str, allowed: Sequence[str] = OPTIONS) -> dict[str, float]:
        """P(option) for an option prompt on this instruction: the rates restricted to the allowed options that fit
        (`candidates`), renormalised; a non-suite instruction, or nothing that fits, holds (D: 1)."""
        names = parse_suite_instruction(instruction)
        if names is None or not _runs(names, input):
            return {o: float(o == "D") for o in OPTIONS}
        rates = self.single_rates if len(names) == 1 else self.sequential_rates
        fits = {o: rates[o] for o in OPTIONS if o in allowed and rates[o] > 0 and candidates(names, input, o)}
        total = sum(fits.values())
        return {o: fits.get(o, 0.0) / total for o in OPTIONS} if total else {o: float(o == "D") for o in OPTIONS}

    def reply(self, messages: Sequence[Mapping[str, Any]]) -> str:
        """The reply to one chat request: an option choice, a rewrite or an answer, by what the prompt asks."""
        rng = random.Random(f"{self.seed}:{stable_hash(list(messages))}")
        user = next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")
        if OPTION_MARKER in user:
            return self._option(user, rng)
        if REWRITE_MARKER in user:
            return self._rewrite(user, rng)
        if SPLIT_MARKER in user:
            return self._split(user, rng)
        return self._answer(user)

    def _option(self, prompt: str, rng: random.Random) -> str:
        query = _OPTION_QUERY.fullmatch(prompt.rsplit("\n\n", 1)[-1])
        allowed = _ALLOWED.findall(prompt.split("\n\n", 1)[0]) or list(OPTIONS)
        probabilities = (
            self.option_probabilities(query["instruction"], query["input"] or "", allowed)
            if query
            else {o: float(o == "D") for o in OPTIONS}
        )
        option = rng.choices(OPTIONS, weights=[probabilities[o] for o in OPTIONS])[0]
        return f"{_REASONS[option]}\nSo the option is: {option}."

    def _rewrite(self, prompt: str, rng: random.Random) -> str:
        query, option = _REWRITE_QUERY.fullmatch(prompt.rsplit("\n\n", 1)[-1]), _REWRITE_OPTION.search(prompt)
        names = parse_suite_instruction(query["instruction"]) if query and option else None
        text = (query["input"] or "") if query else ""
        if names is None or option is None or not _runs(names, text):
            return "I cannot tell which tasks this instruction asks for, so I would keep it as it is."
        found = candidates(names, text, option[1])
        if not found or option[1] == "D":
            return _NO_FIT.get(option[1], _REASONS["D"])
        new = rng.choice(found)
        return f"{_REASONS[option[1]]}\n#New Instruction#: {tasks.instruction_for(new, rng)}###"

    def _split(self, prompt: str, rng: random.Random) -> str:
        """SIT-split: a suite chain's steps, each with a single-task instruction and its ground-truth output."""
        query = _SPLIT_QUERY.search(prompt.rsplit("\n\n", 1)[-1])
        names = parse_suite_instruction(query["instruction"]) if query else None
        text = "" if query is None or query["input"] == "(none)" else query["input"]
        if names is None or len(names) < 2 or not _runs(names, text):
            return "This instruction asks for one task only, so there is nothing to split.\n###"
        lines = []
        for k, (name, output) in enumerate(zip(names, tasks.run_chain(names, text), strict=True), start=1):
            lines += [
                f"#Step {k} Instruction#: {tasks.instruction_for([name], rng)}",
                f"#Step {k} Response#: {output}",
            ]
        return "\n".join([*lines, "###"])

    def _answer(self, prompt: str) -> str:
        instruction, _, text = prompt.rpartition("\n\n") if "\n\n" in prompt else (prompt, "", "")
        names = parse_suite_instruction(instruction)
        if names is None:
            return PLAIN_REPLY
        try:
            return "\n".join(tasks.run_chain(names, text.strip()))
        except ValueError:
            return f"The input does not fit this instruction: {instruction.strip()}"
