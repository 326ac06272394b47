"""The claims table (`seqit_utils.analysis.claims`, stage `claims`) on hand-made metrics files where every value is
worked out: per-seed differences, their mean and sample sd, the paper's direction held in the mean and in every
seed, claims not measured (with why), the paper's differences read from seqit_utils/paper, and the stage's CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from seqit_utils.analysis import claims
from seqit_utils.tables import paper_numbers

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = {"claim", "paper_ref", "paper_value", "mini_value", "mini_sd", "n", "seeds", "holds"}
EXTRAS = {"statement", "metric", "set", "treatment", "reference", "direction", "per_seed", "sources", "note"}


def cell(n: int, **per_seed: dict[str, float]) -> dict:
    """A results cell as notebooks 06/12 write it: `per_seed` keyed by seed text (s0 → "0")."""
    return {"n": n, "per_seed": {seed.removeprefix("s"): values for seed, values in per_seed.items()}}


def follow(value: float) -> dict[str, float]:
    return {"follow_all": value, "accuracy": 0.5}


def acc(value: float) -> dict[str, float]:
    return {"follow_all": 1.0, "accuracy": value}


MINIATURE = {  # notebook 06: `<set>.<run>`
    "seeds": [0, 1],
    "two_step_seen.it": cell(10, s0=follow(0.1), s1=follow(0.3)),
    "two_step_seen.sit": cell(10, s0=follow(0.9), s1=follow(0.7)),  # +0.8, +0.4: holds in both seeds
    "fr_seen.it": cell(10, s0=acc(0.5), s1=acc(0.5)),
    "fr_seen.translate_sit": cell(10, s0=acc(0.8), s1=acc(0.45)),  # +0.3, −0.05: the mean is up, seed 1 is not
    "fr_unseen.translate_sit": cell(10, s0=acc(0.6)),  # `it` was never evaluated on fr_unseen
    "chain4.sit": cell(10, s0=follow(0.05), s1=follow(0.1)),
    "chain4.sit_chain3": cell(10, s0=follow(0.25)),  # one seed: only seed 0 counts
    "chain5.sit": cell(10, s0=follow(0.0)),
    "chain5.sit_chain3": cell(10, s0=follow(0.0)),  # no change: an improvement does not hold
    "provenance": {"seeds": [0, 1]},
}
ABLATION_EVAL = {  # notebook 12: `runs.<run>.<set>`
    "runs": {
        "ablation_it": {"two_step_seen": cell(10, s0=follow(0.2))},
        "data_level": {"two_step_seen": cell(10, s0=follow(0.5))},  # +0.3
        "ablation_sit": {"two_step_seen": cell(10, s0=follow(0.4))},
        "sit_split": {"two_step_seen": cell(10, s0=follow(0.6))},  # +0.2, the paper goes down: fails
        "sit_multi": {"two_step_seen": cell(10, s0=follow(0.1))},  # −0.3, down as in the paper
        "instance_level_it": {"two_step_seen": cell(10, s0=follow(0.1))},
        "instance_level_sit": {"two_step_seen": cell(10, s1=follow(0.9))},  # no seed in common
        "sit": {"two_step_seen": cell(10, s0=follow(0.0))},  # also in miniature.json, which comes first
    }
}
METRICS = {"miniature.json": MINIATURE, "ablation_eval.json": ABLATION_EVAL}


@pytest.fixture(scope="module")
def result() -> dict:
    return claims.measure_all(claims.CLAIMS, METRICS)


def test_every_row_has_exactly_the_contract_and_the_documented_extras(result):
    assert [row["claim"] for row in result["claims"]] == [
        "repeat_sit_following", "translate_sit_accuracy", "data_level", "sit_split_vs_sit", "sit_multi_vs_sit",
        "chain_trained_3step_following", "chain_trained_5step_following",
    ]  # fmt: skip
    for row in result["claims"]:
        assert set(row) == CONTRACT | EXTRAS
        assert isinstance(row["n"], int) and isinstance(row["holds"], bool) and isinstance(row["mini_sd"], float)
        assert row["paper_value"] is None or isinstance(row["paper_value"], float)
    json.dumps(result)  # a metrics file


def test_two_seeds_mean_sd_and_a_claim_that_holds(result):
    row = next(r for r in result["claims"] if r["claim"] == "repeat_sit_following")
    assert {key: row[key] for key in CONTRACT} == {
        "claim": "repeat_sit_following",
        "paper_ref": "NAACL Table 1: follow_both, SIT − IT, Llama-3-8B-Alpaca",
        "paper_value": 0.68,  # Table 1, Llama-3-8B-Alpaca follow_both: SIT 95 − IT 27 = 68 points
        "mini_value": 0.6,  # (0.8 + 0.4) / 2
        "mini_sd": 0.282843,  # sample sd of (0.8, 0.4) = 0.4 / sqrt(2)
        "n": 10,
        "seeds": [0, 1],
        "holds": True,
    }
    assert row["per_seed"] == {"0": 0.8, "1": 0.4} and row["direction"] == 1
    assert row["sources"] == {"treatment": "metrics/miniature.json", "reference": "metrics/miniature.json"}


def test_a_positive_mean_with_one_seed_against_the_direction_does_not_hold(result):
    row = next(r for r in result["claims"] if r["claim"] == "translate_sit_accuracy")
    assert (row["mini_value"], row["mini_sd"], row["per_seed"]) == (0.125, 0.247487, {"0": 0.3, "1": -0.05})
    assert row["paper_value"] == 0.0622 and row["holds"] is False  # Table 2: 44.70 − 38.48 = 6.22 points


def test_ablation_rows_read_notebook_12_and_follow_the_papers_sign(result):
    rows = {r["claim"]: r for r in result["claims"]}
    data_level = rows["data_level"]
    assert (data_level["mini_value"], data_level["mini_sd"], data_level["seeds"]) == (0.3, 0.0, [0])
    assert data_level["paper_value"] == 0.111 and data_level["holds"]  # Table 6 xquad: 49.6 − 38.5
    assert data_level["sources"]["treatment"] == "metrics/ablation_eval.json"
    # the paper has SIT-split and SIT-multi below SIT (negative Δ): +0.2 fails, −0.3 holds
    assert rows["sit_split_vs_sit"]["paper_value"] == -0.104 and rows["sit_split_vs_sit"]["direction"] == -1
    assert (rows["sit_split_vs_sit"]["mini_value"], rows["sit_split_vs_sit"]["holds"]) == (0.2, False)
    assert (rows["sit_multi_vs_sit"]["mini_value"], rows["sit_multi_vs_sit"]["holds"]) == (-0.3, True)
    assert rows["sit_multi_vs_sit"]["paper_value"] == -0.049  # 41.2 − 46.1


def test_without_a_paper_number_an_improvement_is_expected_in_common_seeds_only(result):
    rows = {r["claim"]: r for r in result["claims"]}
    chain4, chain5 = rows["chain_trained_3step_following"], rows["chain_trained_5step_following"]
    assert chain4["paper_value"] is None and "No printed number" in chain4["note"]
    assert (chain4["mini_value"], chain4["mini_sd"], chain4["seeds"], chain4["holds"]) == (0.2, 0.0, [0], True)
    assert (chain5["mini_value"], chain5["holds"]) == (0.0, False)  # no change is not an improvement


def test_claims_without_results_are_listed_with_the_reason_not_dropped(result):
    reasons = {item["claim"]: item["reason"] for item in result["not_measured"]}
    assert list(reasons) == ["translate_sit_unseen_accuracy", "seq_instruct_sit_following", "instance_level"]
    assert reasons["translate_sit_unseen_accuracy"].startswith("run 'it' has no results on set 'fr_unseen' (it has:")
    assert reasons["seq_instruct_sit_following"] == (
        "run 'sit_seq_instruct' has no results in metrics/miniature.json, metrics/ablation_eval.json (not in this "
        "profile's registry, or not evaluated)"
    )
    assert reasons["instance_level"] == "no seed in common: instance_level_sit has [1], instance_level_it has [0]"
    text = claims.to_markdown(result, claims.CLAIMS, "smoke")
    measured, not_measured = text.split("## Not measured")
    assert "| repeat_sit_following | two_step_seen follow_all: sit − it | NAACL Table 1" in measured
    assert "| +0.680 | +0.600 ± 0.283 | 10 | 0, 1 | ✓ |" in measured
    assert "| -0.104 | +0.200 ± 0.000 | 10 | 0 | ✗ |" in measured
    assert "| – | +0.200 ± 0.000 | 10 | 0 | ✓ |" in measured  # chain4: no paper number
    assert "effect directions, not the paper's magnitudes" in measured and "suite generator" in measured
    assert "- `data_level`, `sit_split_vs_sit`, `sit_multi_vs_sit`: Table 6's xquad column" in measured  # one note
    assert all(f"`{claim}`" in not_measured for claim in reasons) and "no seed in common" in not_measured


def test_paper_values_come_from_the_yaml():
    """Every claim's paper Δ from seqit_utils/paper, one checked against the YAML text by hand."""
    text = (ROOT / "seqit_utils" / "paper" / "naacl2025_tables.yaml").read_text(encoding="utf-8")
    table_12 = next(t for t in yaml.safe_load(text)["tables"] if t["id"] == "table_12")
    main = [
        r for r in table_12["rows"] if r["part"] == "main" and r["model"] == "Llama-3-8B" and r["dataset"] == "Alpaca"
    ]
    follow = {r["method"]: r["values"]["follow"] for r in main}
    assert (follow["SIT"], follow["IT"]) == (89.3, 83.4)
    spec = next(c for c in claims.CLAIMS if c.claim == "seq_instruct_sit_following")
    assert spec.paper.value() == 0.059 == round((89.3 - 83.4) / 100, 6)
    # Table 9, unseen languages (Table 2's column group), Llama-3-8B SIT-M − IT: 8.0, 2.8, 7.8, 6.1, 9.3, 7.4
    assert tuple(paper_numbers.paper_table("table_2").column_groups["unseen"]) == claims.UNSEEN_LANGS
    unseen = next(c for c in claims.CLAIMS if c.claim == "translate_sit_unseen_accuracy")
    assert unseen.paper.value() == 0.069  # 41.4 / 6 = 6.9 points
    expected = {"repeat_sit_following": 0.68, "translate_sit_accuracy": 0.0622, "data_level": 0.111,
                "instance_level": 0.126, "sit_split_vs_sit": -0.104, "sit_multi_vs_sit": -0.049}  # fmt: skip
    assert {c.claim: c.paper.value() for c in claims.CLAIMS if c.claim in expected} == expected
    assert [c.claim for c in claims.CLAIMS if c.paper is None] == [
        "chain_trained_3step_following", "chain_trained_5step_following"
    ]  # fmt: skip


@pytest.fixture()
def project(tmp_path):
    """A project folder with the smoke params (their §5.1 references: the pair ablation_it / ablation_sit) and the
    two metrics files."""
    shutil.copytree(ROOT / "params", tmp_path / "params")
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    metrics = tmp_path / "outputs" / "smoke" / "metrics"
    metrics.mkdir(parents=True)
    for name, content in METRICS.items():
        (metrics / name).write_text(json.dumps(content))
    return tmp_path


def test_the_stage_cli_writes_the_json_and_the_markdown(project, result):
    run = subprocess.run([sys.executable, "-m", "seqit_utils.analysis.claims", "smoke"], cwd=project,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(
        "claims: 7 measured (4 hold), 3 not measured; wrote outputs/smoke/metrics/claims.json"
    )
    written = json.loads((project / "outputs/smoke/metrics/claims.json").read_text())
    sidecar = json.loads((project / "outputs/smoke/metrics/claims.provenance.json").read_text())
    assert written == result["claims"] and sidecar["not_measured"] == result["not_measured"]
    assert sidecar["provenance"]["seeds"] == [0, 1]
    markdown = (project / "outputs/smoke/tables/claims.md").read_text()
    assert markdown == claims.to_markdown(result, claims.CLAIMS, "smoke")


def test_missing_metrics_files_leave_every_claim_not_measured(project, monkeypatch):
    for name in claims.METRICS_FILES:
        (project / "outputs/smoke/metrics" / name).unlink()
    monkeypatch.chdir(project)
    assert claims.main(["smoke"]) == 0
    written = json.loads((project / "outputs/smoke/metrics/claims.json").read_text())
    sidecar = json.loads((project / "outputs/smoke/metrics/claims.provenance.json").read_text())
    assert written == [] and len(sidecar["not_measured"]) == len(claims.CLAIMS)
    assert "metrics/miniature.json (absent)" in sidecar["not_measured"][0]["reason"]
    assert "| (none measured) |" in (project / "outputs/smoke/tables/claims.md").read_text()


def test_a_profile_without_the_like_for_like_pair_compares_with_its_shared_runs():
    """paper trains no ablation_it / ablation_sit: as in the paper, its IT and Seq-Instruct SIT are the §5.1
    references; smoke and sample train the pair."""
    by_id = {c.claim: c for c in claims.for_profile(claims.CLAIMS, {"it": {}, "sit_seq_instruct": {}})}
    assert by_id["data_level"].reference == "it" and by_id["sit_split_vs_sit"].reference == "sit_seq_instruct"
    kept = {c.claim: c for c in claims.for_profile(claims.CLAIMS, {"it": {}, "ablation_it": {}, "ablation_sit": {}})}
    assert kept["data_level"].reference == "ablation_it" and kept["sit_multi_vs_sit"].reference == "ablation_sit"
