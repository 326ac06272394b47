"""Tests for the translate-then-answer suite (§4.1.1, Tables 2/9 in miniature)."""

from __future__ import annotations

import pytest

from seqit_utils.data import tasks
from seqit_utils.data import translate_suite as ts
from seqit_utils.evaluate.metrics import following_report
from seqit_utils.sit.manual_translate import TRANSLATE_CLAUSE

SMALL = {"n_train_per_task": 90, "n_eval_per_split": 45}
FIELDS = ("id", "instruction", "input", "output", "task", "steps", "n_steps", "split", "lang")
IT, SIT, SEEN, UNSEEN = ts.SPLITS


@pytest.fixture(scope="module")
def suite() -> dict[str, list[dict]]:
    return ts.generate_translate_suite(seed=0, **SMALL)


def test_lexicon_round_trip() -> None:
    assert ts.to_french("dog cat apple") == "chien chat pomme"
    assert ts.to_english("chien chat pomme") == "dog cat apple"
    for noun in tasks.ENGLISH_NOUNS:
        assert ts.to_english(ts.to_french(noun)) == noun
    with pytest.raises(ValueError, match="'chien' in 'dog chien'"):
        ts.to_french("dog chien")
    with pytest.raises(ValueError, match="French nouns"):
        ts.to_english("dog")


def test_schema_and_gold(suite: dict[str, list[dict]]) -> None:
    assert set(suite) == set(ts.SPLITS)
    for split, records in suite.items():
        assert records
        ids = [r["id"] for r in records]
        assert len(set(ids)) == len(ids), split
        for r in records:
            assert all(field in r for field in FIELDS), (split, r)
            assert r["output"] == "\n".join(step["output"] for step in r["steps"])
            assert r["n_steps"] == len(r["steps"]) and r["task"] == ">".join(s["task"] for s in r["steps"])
            assert tasks.base_kind(r["input"]) == r["lang"]
            text = r["input"]
            for step in r["steps"]:  # each step's gold follows from the previous one's
                gold = ts.to_english(text) if step["task"] == ts.TO_ENGLISH else tasks.apply_task(step["task"], text)
                assert step["output"] == gold, r
                text = gold


def test_it_covers_both_languages(suite: dict[str, list[dict]]) -> None:
    it = suite[IT]
    pairs = {(r["task"], r["lang"]) for r in it}
    expected = {(t, "en") for t in ts.EN_TASKS} | {(t, "fr") for t in ts.FR_TASKS} | {(ts.TO_ENGLISH, "fr")}
    assert pairs == expected
    assert all(r["n_steps"] == 1 for r in it)
    assert sum(r["task"] == "sort" and r["lang"] == "fr" for r in it) == SMALL["n_train_per_task"]
    without = ts.generate_translate_suite(seed=0, **SMALL, to_english_in_it=False)[IT]
    assert ts.TO_ENGLISH not in {r["task"] for r in without}


def test_one_third_of_seen_english_inputs_replaced(suite: dict[str, list[dict]]) -> None:
    it, sit = suite[IT], suite[SIT]
    assert len(sit) == len(it)
    seen = [t for t in ts.SIT_TASKS if t not in ts.DEFAULT_UNSEEN]
    eligible = [i for i, r in enumerate(it) if r["lang"] == "en" and r["task"] in seen]
    replaced = [i for i, (a, b) in enumerate(zip(it, sit, strict=True)) if a != b]
    assert len(replaced) == round(len(eligible) / 3) and set(replaced) <= set(eligible)
    for i in replaced:
        old, new = it[i], sit[i]
        assert (
            new["instruction"]
            == f"First, {TRANSLATE_CLAUSE}, then " + old["instruction"][0].lower() + old["instruction"][1:]
        )
        assert new["input"] == ts.to_french(old["input"]) and new["lang"] == "fr"
        assert new["output"] == old["input"] + "\n" + old["output"]
        assert new["source_id"] == old["id"] and new["split"] == SIT
    # Unseen tasks never follow a translation step in training.
    assert not {r["task"] for r in sit if r["n_steps"] == 2} & {f"{ts.TO_ENGLISH}>{t}" for t in ts.DEFAULT_UNSEEN}


def test_eval_sets_split_tasks_seen_unseen(suite: dict[str, list[dict]]) -> None:
    trained = {r["task"].split(">")[-1] for r in suite[SIT] if r["n_steps"] == 2}
    for split, expected in ((SEEN, trained), (UNSEEN, set(ts.DEFAULT_UNSEEN))):
        records = suite[split]
        assert len(records) == SMALL["n_eval_per_split"]
        assert {r["task"].split(">")[-1] for r in records} == expected
        for r in records:
            assert r["lang"] == "fr" and r["instruction"].startswith(f"First, {TRANSLATE_CLAUSE}, then ")
            assert r["steps"][0] == {"task": ts.TO_ENGLISH, "output": ts.to_english(r["input"])}
    assert not trained & set(ts.DEFAULT_UNSEEN)


def test_eval_inputs_never_in_training(suite: dict[str, list[dict]]) -> None:
    train = {r["input"] for split in (IT, SIT) for r in suite[split]}
    train |= {ts.to_english(text) if tasks.base_kind(text) == "fr" else ts.to_french(text) for text in train}
    for split in (SEEN, UNSEEN):
        for r in suite[split]:
            assert r["input"] not in train and r["steps"][0]["output"] not in train
            # both forms on the eval side: never a training input of `tasks.generate_suite` either
            assert tasks.is_eval_input(r["input"]) and tasks.is_eval_input(r["steps"][0]["output"])


def test_seeded() -> None:
    first = ts.generate_translate_suite(seed=5, **SMALL)
    assert first == ts.generate_translate_suite(seed=5, **SMALL)
    other = ts.generate_translate_suite(seed=6, **SMALL)
    assert all(first[split] != other[split] for split in ts.SPLITS)


def test_gold_scores_perfectly_and_shortcut_does_not(suite: dict[str, list[dict]]) -> None:
    records = suite[UNSEEN]
    gold = following_report([r["output"] for r in records], records)
    assert gold["follow_all"] == 1.0 and gold["accuracy"] == 1.0 and gold["intermediate_exact"] == 1.0
    # answering on the French input without translating: the final answer is wrong wherever it contains a noun
    direct = following_report([tasks.apply_task(r["task"].split(">")[-1], r["input"]) for r in records], records)
    assert direct["intermediate_exact"] == 0.0 and direct["accuracy"] < 0.7


def test_summary(suite: dict[str, list[dict]]) -> None:
    summary = ts.summarize_translate(suite)
    assert summary["records"] == {split: len(records) for split, records in suite.items()}
    assert summary["langs"][SEEN] == {"fr": SMALL["n_eval_per_split"]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"unseen_tasks": ["translate"]}, "unseen_tasks"),
        ({"unseen_tasks": "reverse"}, "unseen_tasks"),
        ({"unseen_tasks": []}, "each side"),
        ({"unseen_tasks": list(ts.SIT_TASKS)}, "each side"),
        ({"fraction": 0}, "fraction"),
        ({"n_train_per_task": 0}, "n_train_per_task"),
    ],
)
def test_validation_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ts.generate_translate_suite(**{**SMALL, **kwargs})
