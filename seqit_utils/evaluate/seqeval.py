"""SeqEval construction (§3): Seq-Instruct applied to the 805 AlpacaEval queries, four rounds, mixed 0.1/0.2/0.3/0.4.

§3: in round 1 the Seq-Instruct option is sampled uniformly from A (decompose), B (prefix) and C (suffix); in later
rounds only from B and C. Round k rewrites the output of round k-1, so an item of round k carries about k+1 tasks.
The benchmark takes every query once, from one round: a seeded share of items per round (ratios 0.1/0.2/0.3/0.4).

Everything here is pure and seeded. The Seq-Instruct step itself (prompt, LLM call, parsing) lives in
`seqit_utils.sit.seq_instruct`; `construct` takes it as an injected callable `rewrite(records, options) -> records`.

Rounding of the per-round counts (`iteration_counts`): round k < K gets round-half-up(ratio_k * n), the last round
gets the rest. For n = 805 this gives 81/161/242/321, exactly the counts of the published `seqEval.json`.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

ITERATIONS = 4  # §3: four Seq-Instruct rounds
RATIOS = (0.1, 0.2, 0.3, 0.4)  # §3: share of the benchmark taken from rounds 1..4
FIRST_OPTIONS = ("A", "B", "C")  # §3: round 1 samples uniformly among decompose / prefix / suffix
LATER_OPTIONS = ("B", "C")  # §3: rounds >= 2 only add a prefix or a suffix task
OPTION_NAMES = {"A": "decompose", "B": "prefix", "C": "suffix", "D": "hold"}  # App. B.4, Fig. 3
# `seq_mode` in the published intermediate_iterations/seqEval_iteration_k.json -> option letter ("interpolate" is
# the decompose prompt: "rewrite the given instruction as two logically related sequential instructions").
PUBLISHED_MODES = {"interpolate": "A", "prefix": "B", "suffix": "C"}

Rewrite = Callable[[list[dict[str, Any]], list[str]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Construction:
    """The result of `construct`: the mixed benchmark, every round in full, and the forced options."""

    benchmark: list[dict[str, Any]]  # n records in input order, each with `iteration` (1..K) and `option`
    rounds: list[list[dict[str, Any]]]  # rounds[k-1]: all n records after round k (the intermediate_iterations)
    options: list[list[str]]  # options[k-1][i]: the option forced on item i in round k


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n: expected an int >= 0, got {n!r}")


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed: expected an int, got {seed!r}")


def _rng(seed: int, purpose: str) -> random.Random:
    # One independent, reproducible stream per purpose: str seeds are hashed with SHA-512 (not PYTHONHASHSEED).
    _check_seed(seed)
    return random.Random(f"seqeval/{purpose}/{seed}")


def plan_options(n: int, iterations: int = ITERATIONS, seed: int = 0) -> list[list[str]]:
    """The Seq-Instruct option forced on each of `n` items in each round: `plan[k-1][i]` for round k, item i.

    Round 1 draws i.i.d. uniformly from A/B/C, later rounds from B/C (§3). Rounds are drawn in order from one
    seeded stream, so the plan for fewer rounds is a prefix of the plan for more.
    """
    _check_n(n)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations: expected an int >= 1, got {iterations!r}")
    rng = _rng(seed, "options")
    return [[rng.choice(FIRST_OPTIONS if k == 0 else LATER_OPTIONS) for _ in range(n)] for k in range(iterations)]


def _fractions(ratios: Sequence[float]) -> list[Fraction]:
    """Ratios as exact fractions (0.1 -> 1/10 via its decimal repr), checked and normalised to sum to 1."""
    if isinstance(ratios, str) or not ratios:
        raise ValueError(f"ratios: expected a non-empty sequence of numbers, got {ratios!r}")
    exact = []
    for r in ratios:
        if isinstance(r, bool) or not isinstance(r, int | float | Fraction) or not math.isfinite(r) or r < 0:
            raise ValueError(f"ratios: expected finite numbers >= 0, got {ratios!r}")
        exact.append(Fraction(str(r)) if isinstance(r, float) else Fraction(r))
    total = sum(exact)
    if abs(total - 1) > Fraction(1, 10**9):  # tolerate float noise such as (1/3, 1/3, 1/3)
        raise ValueError(f"ratios: expected shares summing to 1, got {ratios!r} (sum {float(total)})")
    return [r / total for r in exact]


def iteration_counts(n: int, ratios: Sequence[float] = RATIOS) -> list[int]:
    """How many of `n` items the benchmark takes from each round; the counts sum to `n`.

    Round k < K: round-half-up(ratio_k * n), computed exactly; the last round takes the rest. 805 items with
    0.1/0.2/0.3/0.4 give 81/161/242/321 (quotas 80.5/161/241.5/322), the published SeqEval counts. Raises
    ValueError if rounding up the first rounds leaves the last one negative (only for a tiny last ratio).
    """
    _check_n(n)
    shares = _fractions(ratios)
    counts = [math.floor(r * n + Fraction(1, 2)) for r in shares[:-1]]
    counts.append(n - sum(counts))
    if counts[-1] < 0:
        raise ValueError(f"ratios {list(ratios)!r} with n={n}: rounding leaves the last round {counts[-1]} items")
    return counts


def assign_iterations(n: int, ratios: Sequence[float] = RATIOS, seed: int = 0) -> list[int]:
    """The round (1..K) each of `n` items is taken from: a seeded shuffle of the item indices, of which the first
    counts[0] go to round 1, the next counts[1] to round 2, and so on (`iteration_counts`)."""
    counts = iteration_counts(n, ratios)
    order = list(range(n))
    _rng(seed, "mix").shuffle(order)
    assigned = [0] * n
    start = 0
    for k, count in enumerate(counts, start=1):
        for i in order[start : start + count]:
            assigned[i] = k
        start += count
    return assigned


def mix_iterations(
    records_by_iteration: Sequence[Sequence[dict[str, Any]]], ratios: Sequence[float] = RATIOS, seed: int = 0
) -> list[dict[str, Any]]:
    """The benchmark: item i taken from round `assign_iterations(...)[i]` and tagged with `iteration` (1..K).

    `records_by_iteration[k-1]` holds all n items after round k, aligned by position (and by `id` where present).
    The output keeps the item order (the published seqEval.json keeps AlpacaEval's order) and copies each record.
    """
    if isinstance(records_by_iteration, str | bytes) or not records_by_iteration:
        raise ValueError("records_by_iteration: expected one list of records per round")
    if len(ratios) != len(records_by_iteration):
        raise ValueError(f"ratios has {len(ratios)} shares but records_by_iteration has {len(records_by_iteration)}")
    n = len(records_by_iteration[0])
    for k, rows in enumerate(records_by_iteration, start=1):
        if len(rows) != n:
            raise ValueError(f"records_by_iteration: round {k} has {len(rows)} records, round 1 has {n}")
    for i in range(n):
        ids = {rows[i].get("id") for rows in records_by_iteration}
        if len(ids) > 1:
            raise ValueError(
                f"records_by_iteration: item {i} has different ids across rounds: {sorted(map(str, ids))}"
            )
    assigned = assign_iterations(n, ratios, seed)
    return [{**records_by_iteration[k - 1][i], "iteration": k} for i, k in enumerate(assigned)]


def construct(
    records: Sequence[dict[str, Any]],
    rewrite: Rewrite,
    iterations: int = ITERATIONS,
    ratios: Sequence[float] = RATIOS,
    seed: int = 0,
) -> Construction:
    """Build SeqEval from single instructions (§3): `iterations` Seq-Instruct rounds, then `mix_iterations`.

    `rewrite(records, options)` is the Seq-Instruct step: given the current records and one forced option per record
    it returns the same number of records, in the same order, whose `instruction` is the new sequential instruction.
    Each round's records get `iteration` (the round), `option` (the forced option) and the input record's `id`
    (a returned `id` that differs raises: the order was lost). Round k rewrites round k-1's output.
    """
    if len(ratios) != iterations:
        raise ValueError(f"ratios has {len(ratios)} shares but iterations={iterations!r}")
    current = [dict(record) for record in records]
    options = plan_options(len(current), iterations, seed)
    rounds = []
    for k, forced in enumerate(options, start=1):
        rewritten = rewrite([dict(record) for record in current], list(forced))
        if len(rewritten) != len(current):
            raise ValueError(f"rewrite returned {len(rewritten)} records for {len(current)} in round {k}")
        step = []
        for i, (before, after, option) in enumerate(zip(current, rewritten, forced, strict=True)):
            if "id" in before and after.get("id", before["id"]) != before["id"]:
                raise ValueError(
                    f"round {k}, record {i}: rewrite returned id {after['id']!r}, expected {before['id']!r}"
                )
            if not isinstance(after.get("instruction"), str) or not after["instruction"].strip():
                raise ValueError(f"round {k}, record {i}: rewrite returned no non-blank 'instruction'")
            keep = {"id": before["id"]} if "id" in before else {}
            step.append({**after, **keep, "iteration": k, "option": option})
        rounds.append(step)
        current = step
    benchmark = mix_iterations(rounds, ratios, seed)
    return Construction(benchmark=benchmark, rounds=rounds, options=options)


def count_by_iteration(records: Sequence[dict[str, Any]]) -> dict[int, int]:
    """Number of records per `iteration`, in ascending order of iteration."""
    counts = Counter(record["iteration"] for record in records)
    return dict(sorted(counts.items()))


def option_counts(records: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Option letters of one round's records (`option`, or the published `seq_mode` via `PUBLISHED_MODES`)."""
    counts: Counter[str] = Counter()
    for i, record in enumerate(records):
        if "option" in record:
            counts[record["option"]] += 1
        elif record.get("seq_mode") in PUBLISHED_MODES:
            counts[PUBLISHED_MODES[record["seq_mode"]]] += 1
        else:
            raise ValueError(f"records[{i}]: no 'option' and no known 'seq_mode' ({sorted(PUBLISHED_MODES)})")
    return dict(sorted(counts.items()))
