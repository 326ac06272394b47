"""The Table 1 probe's scoring on hand-made outputs (no model): R, A, R+A following, ROUGE-L and BERTScore."""

from __future__ import annotations

import pytest

from seqit_utils.data import tasks
from seqit_utils.evaluate import probe


@pytest.fixture(scope="module")
def repeat_records():
    suite = tasks.generate_suite(seed=0, n_train_per_task=1, n_train_sit=1, n_eval_per_split=4)
    return suite["eval_seq2_seen"]


def test_probe_report_on_hand_made_outputs(repeat_records):
    records = repeat_records
    outputs = [
        records[0]["output"],  # repeats, then answers correctly
        records[1]["steps"][-1]["output"],  # skips the repetition (IT-like)
        records[2]["input"],  # repeats, never answers
        "",  # nothing
    ]
    report = probe.probe_report(outputs, records, threshold=0.5)
    assert report["n"] == 4
    assert report["follow_R"] == 0.5 and report["follow_A"] == 0.5 and report["follow_RA"] == 0.25
    assert report["accuracy"] == 0.5
    assert report["rouge_l_R"] == pytest.approx(0.5)  # two exact repetitions, two empty parts
    assert report["bertscore_R"] == pytest.approx(0.5, abs=1e-5)  # 1.0 for exact repetitions, 0.0 for empty parts
    assert report["bertscore_encoder"] == "sentence-transformers/all-MiniLM-L6-v2"


def test_repeat_sets_selects_only_repeat_then_answer_sets(repeat_records):
    suite = tasks.generate_suite(seed=0, n_train_per_task=1, n_train_sit=1, n_eval_per_split=4)
    sets = {"seen": repeat_records, "single": suite["eval_single"], "chain3": suite["eval_seq3"]}
    assert list(probe.repeat_sets(sets)) == ["seen"]


def test_probe_table_of_perfect_outputs(repeat_records):
    """All-followed outputs (means of booleans) still render as numbers in the Table 1 layout."""
    report = probe.probe_report([r["output"] for r in repeat_records], repeat_records, threshold=0.5)
    assert all(isinstance(report[k], float) for k in probe.SCORES)
    table = probe.probe_table({"seeds": [0], "seen.sit": report})
    assert "| seen | sit | 4 | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 |" in table
