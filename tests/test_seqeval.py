"""SeqEval construction (§3): option plan, mix counts, seeded assignment, driver; checks on the published files."""

from __future__ import annotations

from collections import Counter

import pytest

from seqit_utils.data.loaders import load_seqeval, load_seqeval_iteration
from seqit_utils.evaluate.seqeval import (
    LATER_OPTIONS,
    assign_iterations,
    construct,
    count_by_iteration,
    iteration_counts,
    mix_iterations,
    option_counts,
    plan_options,
)

# Offline stand-in for the Seq-Instruct step: one marked task per round, so a round-k item has k marks.
MARK = {"A": "[decompose]", "B": "[prefix]", "C": "[suffix]"}


def fake_rewrite(records, options):
    out = []
    for record, option in zip(records, options, strict=True):
        text = record["instruction"]
        new = f"{MARK['B']} First do this. {text}" if option == "B" else f"{text} {MARK[option]} Then do that."
        out.append({**record, "instruction": new, "previous_instruction": text})
    return out


@pytest.fixture(scope="module")
def queries(shared_data):
    """The 805 AlpacaEval queries (shared/data holds only 604 AlpacaEval records; SeqEval round 1 keeps all 805)."""
    rows = load_seqeval_iteration(iteration=1, data_dir=shared_data)
    return [{"id": f"alpaca_eval/{i}", "instruction": r["ori_instruction"]} for i, r in enumerate(rows)]


def test_iteration_counts_rule():
    assert iteration_counts(805) == [81, 161, 242, 321]  # quotas 80.5 / 161 / 241.5 / 322
    assert iteration_counts(10) == [1, 2, 3, 4]
    assert iteration_counts(5) == [1, 1, 2, 1]  # 0.5 -> 1, 1.0 -> 1, 1.5 -> 2, rest 1
    assert iteration_counts(0) == [0, 0, 0, 0]
    assert iteration_counts(3, (1 / 3, 1 / 3, 1 / 3)) == [1, 1, 1]  # float shares that sum to 0.999...
    for n in range(200):
        assert sum(iteration_counts(n)) == n
    with pytest.raises(ValueError, match="summing to 1"):
        iteration_counts(10, (0.5, 0.4))
    with pytest.raises(ValueError, match="last round"):
        iteration_counts(3, (0.5, 0.5, 0.0))  # 1.5 -> 2 twice leaves -1
    with pytest.raises(ValueError, match="ratios"):
        iteration_counts(10, (1.2, -0.2))


def test_plan_options_rules():
    plan = plan_options(805, 4, seed=0)
    assert [len(row) for row in plan] == [805] * 4
    first = Counter(plan[0])
    assert set(first) == {"A", "B", "C"}
    assert all(abs(count - 805 / 3) < 60 for count in first.values()), first  # ~268 each, sd ~13
    for row in plan[1:]:
        counts = Counter(row)
        assert set(counts) == set(LATER_OPTIONS)
        assert abs(counts["B"] - 402.5) < 60, counts
    assert plan == plan_options(805, 4, seed=0)
    assert plan != plan_options(805, 4, seed=1)
    assert plan_options(805, 2, seed=0) == plan[:2]
    pooled = Counter(o for seed in range(20) for o in plan_options(300, 1, seed=seed)[0])
    assert all(abs(c / 6000 - 1 / 3) < 0.02 for c in pooled.values()), pooled
    with pytest.raises(ValueError, match="iterations"):
        plan_options(5, 0)
    with pytest.raises(ValueError, match="seed"):
        plan_options(5, 1, seed="0")


def test_assign_and_mix_are_seeded_and_exact():
    rounds = [[{"id": i, "instruction": f"q{i} r{k}"} for i in range(805)] for k in range(1, 5)]
    mixed = mix_iterations(rounds, seed=3)
    assert [r["id"] for r in mixed] == list(range(805))  # item order kept
    assert count_by_iteration(mixed) == {1: 81, 2: 161, 3: 242, 4: 321}
    assert all(r["instruction"] == f"q{r['id']} r{r['iteration']}" for r in mixed)
    assert mixed == mix_iterations(rounds, seed=3)
    assert assign_iterations(805, seed=3) != assign_iterations(805, seed=4)
    assert "iteration" not in rounds[0][0]  # inputs are not mutated
    rounds[2][5] = {"id": "other", "instruction": "x"}
    with pytest.raises(ValueError, match="different ids"):
        mix_iterations(rounds, seed=3)
    with pytest.raises(ValueError, match="shares"):
        mix_iterations(rounds[:3], seed=3)


def test_construct_on_the_real_805_queries(queries):
    built = construct(queries, fake_rewrite, seed=0)
    assert len(built.benchmark) == 805 and len(built.rounds) == 4
    assert count_by_iteration(built.benchmark) == {1: 81, 2: 161, 3: 242, 4: 321}
    assert [r["id"] for r in built.benchmark] == [q["id"] for q in queries]
    for k, rows in enumerate(built.rounds, start=1):
        assert [r["option"] for r in rows] == built.options[k - 1]
        assert all(r["iteration"] == k for r in rows)
        assert set(option_counts(rows)) == ({"A", "B", "C"} if k == 1 else {"B", "C"})
    for i, item in enumerate(built.benchmark):
        k = item["iteration"]
        assert item == built.rounds[k - 1][i]
        assert sum(item["instruction"].count(mark) for mark in MARK.values()) == k  # round k = k added tasks
        assert queries[i]["instruction"] in item["instruction"]
    # round k rewrites round k-1
    assert all(
        r["previous_instruction"] == p["instruction"] for r, p in zip(built.rounds[1], built.rounds[0], strict=True)
    )
    again = construct(queries, fake_rewrite, seed=0)
    assert again.benchmark == built.benchmark
    other = construct(queries, fake_rewrite, seed=1)
    assert [r["iteration"] for r in other.benchmark] != [r["iteration"] for r in built.benchmark]
    assert "option" not in queries[0]


def test_construct_rejects_a_broken_rewrite():
    records = [{"id": str(i), "instruction": f"task {i}"} for i in range(10)]
    with pytest.raises(ValueError, match="returned 9 records"):
        construct(records, lambda rows, options: fake_rewrite(rows, options)[:-1])
    with pytest.raises(ValueError, match="expected '0'"):
        construct(records, lambda rows, options: fake_rewrite(rows, options)[::-1])
    with pytest.raises(ValueError, match="non-blank 'instruction'"):
        construct(records, lambda rows, options: [{**r, "instruction": " "} for r in rows])
    with pytest.raises(ValueError, match="shares"):
        construct(records, fake_rewrite, iterations=2)


def test_published_seqeval_matches_the_ratios_and_the_option_rules(shared_data):
    """seqEval.json: 805 items in AlpacaEval order, 81/161/242/321 per round (= iteration_counts(805)); an item of
    round k < 4 is verbatim that round's `seq_instruction`; round 1 used A/B/C, rounds 2-3 only B/C."""
    published = load_seqeval(data_dir=shared_data)
    assert count_by_iteration(published) == dict(enumerate(iteration_counts(805), start=1))
    rounds = {k: load_seqeval_iteration(iteration=k, data_dir=shared_data) for k in (1, 2, 3)}
    for i, item in enumerate(published):
        if item["iteration"] < 4:  # round 4's file is not in shared/data (MANIFEST)
            assert item["instruction"] == rounds[item["iteration"]][i]["instruction"]
    for k in (2, 3):  # each round rewrites the previous one, item by item
        assert [r["ori_instruction"] for r in rounds[k]] == [r["instruction"] for r in rounds[k - 1]]
    first = option_counts(rounds[1])
    assert set(first) == {"A", "B", "C"} and min(first.values()) > 200  # published: A 254, B 263, C 288
    assert set(option_counts(rounds[2])) == set(option_counts(rounds[3])) == {"B", "C"}
