"""The built-in task suite: seeded short list tasks with computable answers, single-step and chained.

DESIGN: the miniature experiment. Inputs are 3-6 space-separated items over a closed vocabulary (20 English nouns,
their French translations, their upper-case forms, integers 0-19). A chain "First <A>, then <B>" applies step k to the
output of step k-1 (paper §2.2: s = i1 ⊕ i2, ŷ = ŷ1 ⊕ ŷ2); its output has one line per step and `steps` carries every
step's gold output for the following-rate metric (§3). Records are Alpaca-format:
{"id", "instruction", "input", "output", "task", "steps", "n_steps", "split"}.

Chains are well-typed by construction: each task maps the *kinds* it accepts to the kind it returns. List kinds are
"en", "fr", "up" (upper-case English) and "num"; a task that returns one item returns "<kind>_item", after which only
the element-wise tasks (repeat, upper, translate) may follow.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# Unaccented French, none equal to an English noun here, so every token has exactly one kind.
# fmt: off
EN_TO_FR = {
    "apple": "pomme", "dog": "chien", "cat": "chat", "house": "maison", "book": "livre", "tree": "arbre",
    "car": "voiture", "sun": "soleil", "moon": "lune", "flower": "fleur", "bird": "oiseau", "fish": "poisson",
    "door": "porte", "bread": "pain", "horse": "cheval", "milk": "lait", "hand": "main", "king": "roi",
    "cheese": "fromage", "boat": "bateau",
}
# fmt: on
ENGLISH_NOUNS = tuple(EN_TO_FR)
NUMBERS = tuple(str(i) for i in range(20))
MIN_ITEMS, MAX_ITEMS = 3, 6
LIST_KINDS = ("en", "fr", "up", "num")
KINDS = {"en": "English nouns", "fr": "French nouns", "up": "upper-case English nouns", "num": "integers"}
KINDS |= {f"{kind}_item": f"a single item of {desc}" for kind, desc in list(KINDS.items())}
_POOLS = {"en": ENGLISH_NOUNS, "fr": tuple(EN_TO_FR.values()), "up": tuple(w.upper() for w in ENGLISH_NOUNS)}
_POOLS["num"] = NUMBERS
_TOKEN_KIND = {token: kind for kind, pool in _POOLS.items() for token in pool}
# Share of the input space (in %) reserved for evaluation (see `is_eval_input`): ~6.7M of the 67M strings per kind.
EVAL_PERCENT = 10


@dataclass(frozen=True)
class Task:
    """One task: a function on item lists, its typing (input kind → output kind) and its phrasings.

    Each phrasing is (clause on the raw input, clause on the previous step's result), both lower-case and without a
    final stop, so that single-step ("Sort the items.") and chained ("First ..., then sort them.") instructions read
    naturally.
    """

    name: str
    fn: Callable[[list[str]], list[str]]
    signature: dict[str, str]
    phrasings: tuple[tuple[str, str], ...]
    min_items: int = 1


_SAME = {kind: kind for kind in LIST_KINDS}
_TO_ITEM = {kind: f"{kind}_item" for kind in LIST_KINDS}
_NUM_TO_ITEM = {"num": "num_item"}


def _sort(items: list[str]) -> list[str]:
    # Numbers sort by value ("2 9 10"), words alphabetically.
    return sorted(items, key=int) if items[0].isdigit() else sorted(items)


_TASK_LIST = [
    Task("repeat", lambda x: x, _SAME | {v: v for v in _TO_ITEM.values()}, (
        ("repeat the input", "repeat the result"), ("copy the input exactly", "copy it exactly"),
        ("write the input again", "write that again"), ("echo the input", "echo the result"))),
    Task("reverse", lambda x: x[::-1], _SAME, (
        ("reverse the order of the items", "reverse the order of the result"),
        ("write the items in reverse order", "write them in reverse order"),
        ("list the items backwards", "list them backwards"))),
    Task("upper", lambda x: [t.upper() for t in x], {"en": "up", "en_item": "up_item"}, (
        ("convert the input to upper case", "convert the result to upper case"),
        ("write the words in capital letters", "write the result in capital letters"),
        ("capitalise every letter of the input", "capitalise every letter of it"))),
    Task("translate", lambda x: [EN_TO_FR[t] for t in x], {"en": "fr", "en_item": "fr_item"}, (
        ("translate the input into French", "translate the result into French"),
        ("give the French for the words", "give the French for it"),
        ("rewrite the words in French", "rewrite the result in French"))),
    Task("first", lambda x: x[:1], _TO_ITEM, (
        ("give the first item", "give the first of those items"),
        ("write only the first item", "write only the first of them"),
        ("return the item at the start of the list", "return the item at the start of that list"))),
    Task("last", lambda x: x[-1:], _TO_ITEM, (
        ("give the last item", "give the last of those items"),
        ("write only the last item", "write only the last of them"),
        ("return the item at the end of the list", "return the item at the end of that list"))),
    Task("count", lambda x: [str(len(x))], {kind: "num_item" for kind in LIST_KINDS}, (
        ("count the items", "count them"), ("say how many items there are", "say how many items the result has"),
        ("give the number of items in the list", "give the number of items in that list"))),
    Task("sort", _sort, _SAME, (
        ("sort the items", "sort them"), ("put the items in ascending order", "put them in ascending order"),
        ("write the items in sorted order", "write the result in sorted order"))),
    Task("max", lambda x: [str(max(map(int, x)))], _NUM_TO_ITEM, (
        ("give the largest number", "give the largest of those numbers"),
        ("find the maximum of the numbers", "find the maximum of the result"),
        ("write the biggest number", "write the biggest of them"))),
    Task("min", lambda x: [str(min(map(int, x)))], _NUM_TO_ITEM, (
        ("give the smallest number", "give the smallest of those numbers"),
        ("find the minimum of the numbers", "find the minimum of the result"),
        ("write the lowest number", "write the lowest of them"))),
    Task("drop_first", lambda x: x[1:], _SAME, (
        ("remove the first item", "remove the first item of the result"),
        ("drop the first item of the list", "drop its first item"),
        ("write all items except the first", "write all of them except the first")), min_items=2),
    Task("add", lambda x: [str(sum(map(int, x)))], _NUM_TO_ITEM, (
        ("add the numbers together", "add them together"), ("compute the sum of the numbers", "compute their sum"),
        ("give the total of the numbers", "give the total of the result"))),
    Task("dedupe", lambda x: list(dict.fromkeys(x)), _SAME, (
        ("remove duplicate items", "remove duplicates from the result"),
        ("keep only the first occurrence of each item", "keep only the first occurrence of each of them"),
        ("delete repeated items", "delete repeated items from it"))),
]  # fmt: skip
TASKS: dict[str, Task] = {task.name: task for task in _TASK_LIST}
TASK_NAMES = tuple(TASKS)
# (opening, middle, last) connectives of a chain; "First {}, then {}" is the paper's manual-SIT wording (§2.2).
CONNECTIVES = (
    ("First {}", ", then {}", ", then {}"),
    ("First {}", ", next {}", ", and finally {}"),
    ("First, {}", ", then {}", ", and then {}"),
    ("First {}", ". Then {}", ". Finally, {}"),
    ("First {}", ", after that {}", ", and after that {}"),
)
SPLITS = ("train_it", "train_sit_chains", "eval_single", "eval_seq2_seen", "eval_seq2_unseen", "eval_seq3")
SPLITS += ("eval_seq4", "eval_seq5")  # eval_seq5 appended last: the earlier splits are unchanged
SPLITS += ("train_sit_chains3",)  # 3-step training chains (v1 §5.3 direction); its own generator, others unchanged


def base_kind(text: str) -> str:
    """The list kind ("en", "fr", "up" or "num") of a space-separated text; ValueError if mixed or unknown."""
    kinds = {"num" if t.isdigit() else _TOKEN_KIND.get(t, "?") for t in text.split()}
    if len(kinds) != 1 or "?" in kinds:
        raise ValueError(f"{text!r} is not a list of one kind of the closed vocabulary ({', '.join(LIST_KINDS)})")
    return kinds.pop()


def apply_task(name: str, text: str) -> str:
    """Gold output of task `name` on a space-separated `text`; ValueError if the task does not accept it."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; allowed values: {', '.join(TASK_NAMES)}")
    task = TASKS[name]
    items, kind = text.split(), base_kind(text)
    if (kind not in task.signature and f"{kind}_item" not in task.signature) or len(items) < task.min_items:
        raise ValueError(f"task {name!r} does not accept {text!r}; it accepts {', '.join(task.signature)}")
    return " ".join(task.fn(items))


def run_chain(names: Sequence[str], text: str) -> list[str]:
    """Gold output of every step of a chain: step 1 reads `text`, step k reads the output of step k-1 (§2.2)."""
    outputs = []
    for name in names:
        text = apply_task(name, text)
        outputs.append(text)
    return outputs


def is_eval_input(text: str) -> bool:
    """Whether an input string belongs to the evaluation side of the input space.

    A stable hash (not Python's salted `hash()`) decides, so train and eval inputs are disjoint for any seed and size.
    """
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") % 100 < EVAL_PERCENT


def instruction_for(names: Sequence[str], rng: random.Random) -> str:
    """A random phrasing of the task chain `names`: one sentence for one task, "First ..., then ..." for more."""
    clauses = [rng.choice(TASKS[name].phrasings)[i > 0] for i, name in enumerate(names)]
    if len(clauses) == 1:
        return clauses[0][0].upper() + clauses[0][1:] + "."
    opening, middle, last = rng.choice(CONNECTIVES)
    middles = "".join(middle.format(clause) for clause in clauses[1:-1])
    return opening.format(clauses[0]) + middles + last.format(clauses[-1]) + "."


def _chains(names: Sequence[str], n_steps: int, first: Sequence[str]) -> list[tuple[tuple[str, ...], list[str]]]:
    """Every well-typed chain of `n_steps` tasks starting with a task in `first`, with the input kinds it accepts.

    The same task twice in a row ("repeat, then repeat") is left out as degenerate.
    """
    found: dict[tuple[str, ...], list[str]] = {}

    def extend(chain: tuple[str, ...], start: str, kind: str) -> None:
        if len(chain) == n_steps:
            found.setdefault(chain, []).append(start)
            return
        for name in first if not chain else names:
            if kind in TASKS[name].signature and (not chain or name != chain[-1]):
                extend((*chain, name), start, TASKS[name].signature[kind])

    for kind in LIST_KINDS:
        extend((), kind, kind)
    return sorted(found.items())


def _records(
    rng: random.Random, chains: list[tuple[tuple[str, ...], list[str]]], n: int, eval_side: bool, seen: set
) -> list[dict[str, Any]]:
    """`n` records of chains drawn uniformly from `chains`, on inputs from one side of the input space."""
    out: list[dict[str, Any]] = []
    for _ in range(100 * n + 10_000):  # ~10 draws per eval record; bounded to fail loudly, not loop forever
        if len(out) == n:
            return out
        names, starts = rng.choice(chains)
        pool = _POOLS[rng.choice(starts)]
        items = rng.choices(pool, k=rng.randint(MIN_ITEMS, MAX_ITEMS))
        text = " ".join(items)
        if is_eval_input(text) != eval_side:
            continue
        steps = []
        for name in names:
            task = TASKS[name]
            if len(items) < task.min_items:  # e.g. drop_first on a one-item result
                break
            items = task.fn(items)
            steps.append({"task": name, "output": " ".join(items)})
        instruction = instruction_for(names, rng)
        if len(steps) < len(names) or (instruction, text) in seen:
            continue
        seen.add((instruction, text))
        output = "\n".join(step["output"] for step in steps)
        record = {"instruction": instruction, "input": text, "output": output, "task": ">".join(names)}
        out.append(record | {"steps": steps, "n_steps": len(steps)})
    raise RuntimeError(f"input space exhausted: only {len(out)} of {n} distinct records for e.g. {chains[0][0]}")


def _per_task(rng: random.Random, names: Sequence[str], n_per_task: list[int], eval_side: bool) -> list[dict]:
    seen: set = set()
    records = []
    for name, n in zip(names, n_per_task, strict=True):
        records += _records(rng, _chains(names, 1, [name]), n, eval_side, seen)
    rng.shuffle(records)  # interleave tasks so that any prefix of a split is balanced
    return records


def _check_tasks(values: Sequence[str], argument: str, allowed: Sequence[str]) -> list[str]:
    if isinstance(values, str):
        raise ValueError(f"{argument}: expected a list of task names, got the string {values!r}")
    for name in values:
        if name not in allowed:
            raise ValueError(f"{argument}: {name!r} is not an allowed task; allowed values: {', '.join(allowed)}")
    return list(dict.fromkeys(values))


def generate_suite(
    seed: int = 0,
    n_train_per_task: int = 6000,
    n_train_sit: int | None = None,
    n_eval_per_split: int = 200,
    sit_intermediate_tasks: Sequence[str] = ("repeat",),
    heldout_intermediate_tasks: Sequence[str] = ("reverse",),
    tasks: Sequence[str] | None = None,
    n_train_chain3: int = 0,
) -> dict[str, list[dict[str, Any]]]:
    """All splits of the task suite (DESIGN: the miniature experiment), keyed by the names in `SPLITS`.

    - `train_it`: `n_train_per_task` single-step records per task (13 × 6,000 = 78,000 at the defaults).
    - `train_sit_chains`: `n_train_sit` 2-step chains whose first step is in `sit_intermediate_tasks` (default: as
      many as `train_it`; §2.2 manual SIT with ["repeat"]). SIT training data = `train_it` + these.
    - `eval_single`, `eval_seq2_seen` (first step in `sit_intermediate_tasks`), `eval_seq2_unseen` (first step in
      `heldout_intermediate_tasks`, never a non-final step of any training record), `eval_seq3`, `eval_seq4`,
      `eval_seq5` (chains of 3-5 tasks: following and accuracy against the number of tasks, cf. Figure 2):
      `n_eval_per_split` records each; a 2-step split is empty when its list of first tasks is.
    - `train_sit_chains3`: `n_train_chain3` 3-step chains on training inputs whose first step is in
      `sit_intermediate_tasks` (the later steps are any tasks): a SIT trained on chains of up to 3 steps, to test
      whether longer training chains extrapolate to the 4- and 5-step sets (arXiv v1 §5.3). Empty at 0 (default).
    Train and eval inputs never overlap (`is_eval_input`); (instruction, input) pairs are unique within a split.
    Every split draws from its own `random.Random(f"{seed}:{split}")`, so resizing one split leaves the others as
    they were. Raises ValueError on unknown tasks or overlapping intermediate lists, RuntimeError if the input space
    cannot supply enough distinct records.
    """
    names = _check_tasks(TASK_NAMES if tasks is None else tasks, "tasks", TASK_NAMES)
    if not names:
        raise ValueError(f"tasks: expected at least one task; allowed values: {', '.join(TASK_NAMES)}")
    sit = _check_tasks(sit_intermediate_tasks, "sit_intermediate_tasks", names)
    heldout = _check_tasks(heldout_intermediate_tasks, "heldout_intermediate_tasks", names)
    if set(sit) & set(heldout):
        allowed = [name for name in names if name not in sit]
        raise ValueError(
            f"heldout_intermediate_tasks: {sorted(set(sit) & set(heldout))} also in sit_intermediate_tasks; "
            f"allowed values: {', '.join(allowed)}"
        )
    for argument, firsts in (("sit_intermediate_tasks", sit), ("heldout_intermediate_tasks", heldout)):
        for name in firsts:
            if not _chains(names, 2, [name]):
                raise ValueError(f"{argument}: no task in `tasks` can follow {name!r}; add e.g. 'repeat' to tasks")
    sizes = (("n_train_per_task", n_train_per_task), ("n_eval_per_split", n_eval_per_split))
    for argument, value in (*sizes, ("n_train_chain3", n_train_chain3)):
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"{argument}: expected a non-negative integer, got {value!r}")
    if n_train_sit is None:
        n_train_sit = n_train_per_task * len(names) if sit else 0
    elif not isinstance(n_train_sit, int) or n_train_sit < 0:
        raise ValueError(f"n_train_sit: expected a non-negative integer or None, got {n_train_sit!r}")

    def rng(split: str) -> random.Random:
        return random.Random(f"{seed}:{split}")

    def chains(split: str, n_steps: int, first: Sequence[str], n: int, eval_side: bool = True) -> list[dict]:
        return _records(rng(split), _chains(names, n_steps, first), n, eval_side, set()) if first else []

    per_eval_task = [n_eval_per_split // len(names) + (i < n_eval_per_split % len(names)) for i in range(len(names))]
    suite = {
        "train_it": _per_task(rng("train_it"), names, [n_train_per_task] * len(names), eval_side=False),
        "train_sit_chains": chains("train_sit_chains", 2, sit, n_train_sit, eval_side=False),
        "eval_single": _per_task(rng("eval_single"), names, per_eval_task, eval_side=True),
        "eval_seq2_seen": chains("eval_seq2_seen", 2, sit, n_eval_per_split),
        "eval_seq2_unseen": chains("eval_seq2_unseen", 2, heldout, n_eval_per_split),
        "eval_seq3": chains("eval_seq3", 3, names, n_eval_per_split),
        "eval_seq4": chains("eval_seq4", 4, names, n_eval_per_split),
        "eval_seq5": chains("eval_seq5", 5, names, n_eval_per_split),
        "train_sit_chains3": chains("train_sit_chains3", 3, sit, n_train_chain3, eval_side=False),
    }
    # Ids and split go first so that JSONL lines read id-first; ids are stable for the same arguments.
    return {
        split: [{"id": f"{split}-{i:06d}", **record, "split": split} for i, record in enumerate(records)]
        for split, records in suite.items()
    }


def summarize(suite: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Records per split and, per split, how often each task occurs as a step (JSON-ready, for notebooks/metrics)."""
    return {
        "records": {split: len(records) for split, records in suite.items()},
        "task_counts": {
            split: dict(sorted(Counter(step["task"] for r in records for step in r["steps"]).items()))
            for split, records in suite.items()
        },
    }
