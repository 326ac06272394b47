"""The claims table (DVC stage `claims`): does each claim of the paper hold in the miniature?

A claim is data (`CLAIMS`, a list of `Claim`): what the paper compares (`PaperDelta`: table, treatment and reference
rows, columns; read through `seqit_utils.tables.paper_numbers`, never typed in) and what the miniature measures for
it: the per-seed difference treatment − reference of one metric (`follow_all` or `accuracy`) on one evaluation set,
between two runs of the registry. Run results come from `metrics/miniature.json` (notebook 06: `<set>.<run>` →
`per_seed`) or `metrics/ablation_eval.json` (notebook 12: `runs.<run>.<set>` → `per_seed`); each (run, set) is looked
up in both, miniature.json first. Only seeds both runs have (with a value) count.

`metrics/claims.json` is the list of measured rows; `metrics/claims.provenance.json` beside it holds
`{"not_measured": [{"claim", "reason"}, ...], "provenance"}`. A row has the contract's keys — `claim`, `paper_ref`,
`paper_value` (the paper's difference as a fraction: its percentage points / 100; null where it prints none, with
the reason in `note`), `mini_value` (mean difference over seeds, a fraction), `mini_sd` (sample sd over seeds; 0.0
with one seed), `n` (items per evaluation set), `seeds`, `holds` (the paper's direction — the sign of `paper_value`,
or `Claim.direction` where it is null — holds strictly in the mean and in every seed) — plus `statement`, `metric`,
`set`, `treatment`, `reference`, `per_seed`, `direction`, `sources` and `note`. A claim whose runs, set, metric or
common seeds are absent is left out of `claims.json`, never silently: it is listed with the reason in
`not_measured` and under "Not measured" in `tables/claims.md`. Where a profile does not train §5.1's like-for-like
pair (`ablation_it`, `ablation_sit`), its shared runs take their place (`SHARED_REFERENCES`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import mean, stdev
from typing import Any

from seqit_utils import io
from seqit_utils.config import Config, find_project_root, load_config
from seqit_utils.tables import paper_numbers
from seqit_utils.train import experiment

METRICS_FILES = ("miniature.json", "ablation_eval.json")  # where run results are looked up, in this order
STAND_INS = (
    "The miniature's stand-ins: tiny Llama-architecture models trained from scratch (for Llama-3-8B / Mistral-7B), "
    "the procedurally generated task suite judged by its ground truth, exact step outputs (for the paper's "
    "benchmarks and judges), French inputs of the suite (for XQuAD's languages) and the suite generator, a "
    "deterministic program (for Llama-3-70B-Instruct as the Seq-Instruct generator). **Numbers are effect directions, "
    "not the paper's magnitudes.**"
)


@dataclass(frozen=True)
class PaperDelta:
    """The paper's analogous comparison: mean over `columns` of (treatment row − reference row), as printed (%)."""

    table: str
    treatment: Mapping[str, Any]
    reference: Mapping[str, Any]
    columns: tuple[str, ...]
    version: str = paper_numbers.DEFAULT_VERSION

    def value(self) -> float:
        """The difference as a fraction (percentage points / 100), rounded to 6 decimals (float noise only)."""
        diffs = []
        for column in self.columns:
            rows = (self.treatment, self.reference)
            pair = [paper_numbers.paper_value(self.table, row, column, self.version) for row in rows]
            if None in pair:
                raise ValueError(f"{self.version} {self.table}: a dash in column {column!r} of {pair}")
            diffs.append(pair[0] - pair[1])
        return round(mean(diffs) / 100, 6)


@dataclass(frozen=True)
class Claim:
    """One claim: the paper's comparison and the miniature's (treatment − reference, `metric` on `set`)."""

    claim: str
    statement: str
    paper_ref: str
    metric: str
    set: str
    treatment: str
    reference: str
    paper: PaperDelta | None = None
    direction: int = 1  # the expected sign where the paper prints no number (1: the paper claims an improvement)
    note: str = ""


_LLAMA = {"base_model": "Llama-3-8B"}
_T9, _T12 = _LLAMA | {"dataset": "Alpaca"}, {"part": "main", "model": "Llama-3-8B", "dataset": "Alpaca"}
_T6, _T6_SIT = {"ablation": "length_task"}, {"ablation": "length_task", "setting": "task-level", "method": "SIT"}
UNSEEN_LANGS = ("ar", "el", "vi", "hi", "tr", "th")  # Table 2's column group "unseen" (tested)
_CHAIN_NOTE = (
    "No printed number: arXiv v1 §5.3 reports the direction only (its Table 6 gives ROUGE-L/BERTScore of "
    "intermediate outputs after SIT on longer chains, not a following rate), so paper_value is null and an "
    "improvement is expected. The miniature trains on chains of at most 3 steps and tests on longer ones."
)
_T6_NOTE = "Table 6's xquad column (a sequential task) for the paper; the miniature measures two-step following."
CLAIMS: list[Claim] = [
    Claim("repeat_sit_following", "SIT follows two-step instructions more often than IT",
          paper_ref="NAACL Table 1: follow_both, SIT − IT, Llama-3-8B-Alpaca",
          metric="follow_all", set="two_step_seen", treatment="sit", reference="it",
          paper=PaperDelta("table_1", {"group": "SIT", "model": "Llama-3-8B-Alpaca"},
                           {"group": "IT", "model": "Llama-3-8B-Alpaca"}, ("follow_both",))),
    Claim("translate_sit_accuracy", "translate-then-answer SIT answers foreign-language inputs better than IT",
          paper_ref="NAACL Table 2: avg_acc, SIT − IT, Llama-3-8B (multilingual Alpaca)",
          metric="accuracy", set="fr_seen", treatment="translate_sit", reference="it",
          paper=PaperDelta("table_2", _LLAMA | {"method": "SIT"}, _LLAMA | {"method": "IT"}, ("avg_acc",)),
          note="Table 2 averages all ten XQuAD languages; fr_seen has French inputs of tasks seen after a "
               "translation step in SIT training."),
    Claim("translate_sit_unseen_accuracy", "the gain of translate-then-answer SIT carries over to unseen inputs",
          paper_ref="NAACL Table 9: accuracy on the unseen languages, SIT-M − IT, Llama-3-8B (Alpaca)",
          metric="accuracy", set="fr_unseen", treatment="translate_sit", reference="it",
          paper=PaperDelta("table_9", _T9 | {"method": "SIT-M"}, _T9 | {"method": "IT"},
                           tuple(f"{lang}_acc" for lang in UNSEEN_LANGS)),
          note="Mean of Table 9's ar, el, vi, hi, tr, th accuracy columns (the languages not in the SIT training "
               "data: Table 2's column group 'unseen'); the miniature's unseen axis is the task after the "
               "translation step."),
    Claim("seq_instruct_sit_following", "Seq-Instruct SIT follows multi-step instructions more often than IT",
          paper_ref="NAACL Table 12: follow, SIT − IT, Llama-3-8B (Alpaca, main)",
          metric="follow_all", set="chain3", treatment="sit_seq_instruct", reference="it",
          paper=PaperDelta("table_12", _T12 | {"method": "SIT"}, _T12 | {"method": "IT"}, ("follow",)),
          note="The paper's SIT data is generated by Llama-3-70B-Instruct and judged on SeqEval by GPT-4-Turbo; "
               "here by the suite generator, judged on chain3 by ground truth."),
    Claim("data_level", "SIT beats IT at the same number of training tokens",
          paper_ref="NAACL Table 6: xquad, data-level SIT − IT",
          metric="follow_all", set="two_step_seen", treatment="data_level", reference="ablation_it",
          paper=PaperDelta("table_6", _T6 | {"setting": "data-level", "method": "SIT"},
                           _T6 | {"setting": "data-level", "method": "IT"}, ("xquad",)), note=_T6_NOTE),
    Claim("instance_level", "SIT beats IT at the same length per instance",
          paper_ref="NAACL Table 6: xquad, instance-level SIT − IT",
          metric="follow_all", set="two_step_seen", treatment="instance_level_sit", reference="instance_level_it",
          paper=PaperDelta("table_6", _T6 | {"setting": "instance-level", "method": "SIT"},
                           _T6 | {"setting": "instance-level", "method": "IT"}, ("xquad",)), note=_T6_NOTE),
    Claim("sit_split_vs_sit", "SIT-split (the steps as separate records) falls below SIT",
          paper_ref="NAACL Table 6: xquad, SIT-split − SIT (task-level)",
          metric="follow_all", set="two_step_seen", treatment="sit_split", reference="ablation_sit",
          paper=PaperDelta("table_6", _T6_SIT | {"method": "SIT-split"}, _T6_SIT, ("xquad",)), note=_T6_NOTE),
    Claim("sit_multi_vs_sit", "SIT-multi (the steps as conversation turns) falls below SIT",
          paper_ref="NAACL Table 6: xquad, SIT-multi − SIT (task-level)",
          metric="follow_all", set="two_step_seen", treatment="sit_multi", reference="ablation_sit",
          paper=PaperDelta("table_6", _T6_SIT | {"method": "SIT-multi"}, _T6_SIT, ("xquad",)), note=_T6_NOTE),
    Claim("chain_trained_3step_following", "training on longer chains helps on longer test chains (4 steps)",
          paper_ref="arXiv v1 §5.3 (direction only)",
          metric="follow_all", set="chain4", treatment="sit_chain3", reference="sit", note=_CHAIN_NOTE),
    Claim("chain_trained_5step_following", "training on longer chains helps on longer test chains (5 steps)",
          paper_ref="arXiv v1 §5.3 (direction only)",
          metric="follow_all", set="chain5", treatment="sit_chain3", reference="sit", note=_CHAIN_NOTE),
]  # fmt: skip


# The like-for-like reference runs of §5.1 (an IT / SIT pair trained like the ablation runs: in smoke, 200 steps from
# the IT model) and the runs that play their part in a profile that does not train them (paper: as the paper, its
# main IT and Seq-Instruct SIT runs).
SHARED_REFERENCES = {"ablation_it": "it", "ablation_sit": "sit_seq_instruct"}


def for_profile(claims: list[Claim], runs: Mapping[str, Any]) -> list[Claim]:
    """`claims` with each reference run the profile's registry lacks replaced by its `SHARED_REFERENCES` run (when
    the registry has that one)."""
    shared = {old: new for old, new in SHARED_REFERENCES.items() if old not in runs and new in runs}
    return [replace(claim, reference=shared.get(claim.reference, claim.reference)) for claim in claims]


def find_cell(metrics: Mapping[str, Any], run: str, test_set: str) -> tuple[str, Mapping[str, Any]] | None:
    """(file name, cell) of `run` on `test_set` in the first of `METRICS_FILES` that has it; None if none does."""
    mini = metrics.get("miniature.json") or {}
    if isinstance(mini.get(f"{test_set}.{run}"), Mapping):
        return "miniature.json", mini[f"{test_set}.{run}"]
    cell = ((metrics.get("ablation_eval.json") or {}).get("runs") or {}).get(run, {}).get(test_set)
    return ("ablation_eval.json", cell) if isinstance(cell, Mapping) else None


def _missing(metrics: Mapping[str, Any], run: str, test_set: str) -> str:
    mini = metrics.get("miniature.json") or {}
    sets = sorted({key.partition(".")[0] for key in mini if key.endswith(f".{run}")})
    sets += sorted(((metrics.get("ablation_eval.json") or {}).get("runs") or {}).get(run, {}))
    searched = ", ".join(f"metrics/{name}" + ("" if metrics.get(name) else " (absent)") for name in METRICS_FILES)
    if sets:
        return f"run {run!r} has no results on set {test_set!r} (it has: {', '.join(dict.fromkeys(sets))})"
    return f"run {run!r} has no results in {searched} (not in this profile's registry, or not evaluated)"


def _values(cell: Mapping[str, Any], metric: str) -> dict[int, float]:
    return {int(s): v[metric] for s, v in (cell.get("per_seed") or {}).items() if v.get(metric) is not None}


def measure(claim: Claim, metrics: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """(the claim's row, None) or (None, why it is not measured)."""
    found = {}
    for role in ("treatment", "reference"):
        run = getattr(claim, role)
        found[role] = find_cell(metrics, run, claim.set)
        if found[role] is None:
            return None, _missing(metrics, run, claim.set)
    (t_file, t_cell), (r_file, r_cell) = found["treatment"], found["reference"]
    treated, reference = _values(t_cell, claim.metric), _values(r_cell, claim.metric)
    for run, values, file in ((claim.treatment, treated, t_file), (claim.reference, reference, r_file)):
        if not values:
            return None, f"run {run!r} has no per-seed {claim.metric} on {claim.set!r} in metrics/{file}"
    if t_cell.get("n") != r_cell.get("n"):
        return None, f"{claim.treatment} and {claim.reference} were scored on {claim.set!r} of different sizes " + (
            f"(n = {t_cell.get('n')} vs {r_cell.get('n')})"
        )
    seeds = sorted(set(treated) & set(reference))
    if not seeds:
        return None, f"no seed in common: {claim.treatment} has {sorted(treated)}, {claim.reference} has " + (
            f"{sorted(reference)}"
        )
    diffs = [round(treated[s] - reference[s], 6) for s in seeds]
    paper_value = claim.paper.value() if claim.paper else None
    direction = claim.direction if paper_value is None else (paper_value > 0) - (paper_value < 0)
    mini_value = round(mean(diffs), 6)
    holds = direction != 0 and direction * mini_value > 0 and all(direction * d > 0 for d in diffs)
    row = {
        "claim": claim.claim, "paper_ref": claim.paper_ref, "paper_value": paper_value, "mini_value": mini_value,
        "mini_sd": round(stdev(diffs), 6) if len(diffs) > 1 else 0.0, "n": t_cell["n"], "seeds": seeds,
        "holds": holds, "statement": claim.statement, "metric": claim.metric, "set": claim.set,
        "treatment": claim.treatment, "reference": claim.reference, "direction": direction,
        "per_seed": {str(s): d for s, d in zip(seeds, diffs, strict=True)},
        "sources": {"treatment": f"metrics/{t_file}", "reference": f"metrics/{r_file}"}, "note": claim.note,
    }  # fmt: skip
    return row, None


def measure_all(claims: list[Claim], metrics: Mapping[str, Any]) -> dict[str, Any]:
    """`{"claims": [row, ...], "not_measured": [{"claim", "reason"}, ...]}` in the order of `claims`."""
    rows, missing = [], []
    for claim in claims:
        row, reason = measure(claim, metrics)
        if row is None:
            missing.append({"claim": claim.claim, "reason": reason})
        else:
            rows.append(row)
    return {"claims": rows, "not_measured": missing}


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.3f}"


def to_markdown(result: Mapping[str, Any], claims: list[Claim], profile: str) -> str:
    """`tables/claims.md`: the stand-ins, one row per measured claim, the notes and the not-measured list."""
    by_id = {claim.claim: claim for claim in claims}
    lines = [
        f"# The paper's claims in miniature (profile `{profile}`)", "", STAND_INS, "",
        "Δ = treatment − reference of one metric on one evaluation set, per seed, as a fraction (mean ± sample sd "
        "over seeds); paper Δ = the paper's difference for the analogous comparison, its percentage points / 100 "
        "(`seqit_utils/paper`). holds: the paper's direction (the sign of paper Δ; an improvement where it prints "
        "no number) in the mean and in every seed.", "",
        "| claim | measured | paper ref | paper Δ | miniature Δ | n | seeds | holds |",
        "|---|---|---|---:|---:|---:|---|:---:|",
    ]  # fmt: skip
    for row in result["claims"]:
        measured = f"{row['set']} {row['metric']}: {row['treatment']} − {row['reference']}"
        mini = f"{_signed(row['mini_value'])} ± {row['mini_sd']:.3f}"
        seeds = ", ".join(map(str, row["seeds"]))
        lines.append(f"| {row['claim']} | {measured} | {row['paper_ref']} | {_signed(row['paper_value'])} | {mini} | "
                     f"{row['n']} | {seeds} | {'✓' if row['holds'] else '✗'} |")  # fmt: skip
    if not result["claims"]:
        lines.append("| (none measured) | | | | | | | |")
    grouped: dict[str, list[str]] = {}  # one line per note, naming every claim it belongs to
    for row in (row for row in result["claims"] if row["note"]):
        grouped.setdefault(row["note"], []).append(f"`{row['claim']}`")
    notes = [f"- {', '.join(names)}: {note}" for note, names in grouped.items()]
    lines += ["", "Notes:", "", *notes] if notes else []
    lines += ["", "## Not measured", ""]
    for item in result["not_measured"]:
        claim = by_id[item["claim"]]
        what = f"{claim.set} {claim.metric}: {claim.treatment} − {claim.reference}"
        lines.append(f"- `{item['claim']}` ({what}; {claim.paper_ref}): {item['reason']}")
    if not result["not_measured"]:
        lines.append("Every claim was measured.")
    return "\n".join(lines) + "\n"


def read_metrics(folder: Path) -> dict[str, Any]:
    """The run-results files of `METRICS_FILES` in `folder` (None for a missing one)."""
    return {name: json.loads((folder / name).read_text(encoding="utf-8")) if (folder / name).is_file() else None
            for name in METRICS_FILES}  # fmt: skip


def write(
    config: Config, result: Mapping[str, Any], root: str | Path = ".", claims: list[Claim] = CLAIMS
) -> list[Path]:
    """`metrics/claims.json` (with provenance) and `tables/claims.md` of the profile."""
    out = experiment.profile_dir(config, root)
    seeds = sorted({seed for row in result["claims"] for seed in row["seeds"]})
    sidecar = {"not_measured": result["not_measured"]}
    return [
        io.write_json(out / "metrics" / "claims.json", list(result["claims"])),
        io.write_metrics(out / "metrics" / "claims.provenance.json", sidecar, config.params(), seeds),
        io.write_text(out / "tables" / "claims.md", to_markdown(result, claims, config.profile)),
    ]


def main(argv: list[str] | None = None) -> int:
    """`python -m seqit_utils.analysis.claims PROFILE` (DVC stage `claims`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", help="smoke | sample | paper: which params/<profile>.yaml")
    args = parser.parse_args(argv)
    root = find_project_root()
    config = load_config(args.profile, root)
    claims = for_profile(CLAIMS, config.runs)
    result = measure_all(claims, read_metrics(experiment.profile_dir(config, root) / "metrics"))
    written = write(config, result, root, claims)
    held = sum(row["holds"] for row in result["claims"])
    print(f"claims: {len(result['claims'])} measured ({held} hold), {len(result['not_measured'])} not measured; "
          f"wrote {', '.join(str(p.relative_to(root)) for p in written)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
