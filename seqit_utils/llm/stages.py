"""What notebooks 03 (Seq-Instruct) and 04 (SeqEval) do with the profile, kept out of the notebooks: their input
records, the SeqEval rewrite step, answering a benchmark with this profile's models, and judging those answers.
The prompt building and parsing they rely on are the pure functions of `seq_instruct` and `judge`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import mean
from typing import Any

from seqit_utils import io
from seqit_utils.config import Config
from seqit_utils.evaluate import judge, seqeval
from seqit_utils.llm.client import LLMClient, Stats
from seqit_utils.prompts import user_message
from seqit_utils.sit import seq_instruct
from seqit_utils.train import experiment


def stage_records(config: Config, name: str, limit: int | None = None, root: str | Path = ".") -> list[dict]:
    """The first `limit` records of the data stage's file `outputs/<profile>/data/<name>.jsonl`."""
    folder = experiment.profile_dir(config, root) / "data"
    path = folder / f"{name}.jsonl"
    if not path.is_file():
        found = sorted(str(p.relative_to(folder).with_suffix("")) for p in folder.rglob("*.jsonl"))
        raise FileNotFoundError(
            f"{path}: no such data file (params: a `source`/`benchmark` of profile {config.profile!r}); the data "
            f"stage wrote: {', '.join(found) or '(nothing: run `dvc repro data`)'}"
        )
    return io.read_jsonl(path)[:limit]


def recorded_agreement(config: Config) -> tuple[dict[str, Any], str | None]:
    """Our parsers vs the authors' recorded completions (`seq_instruct_stats.agreement_by_file`) for the profile's
    `seq_instruct.recorded_subset`: (agreement per file, None), or ({}, why it was skipped)."""
    from seqit_utils.config import data_dir
    from seqit_utils.data.sources import DataNotFoundError
    from seqit_utils.sit.seq_instruct_stats import agreement_by_file

    subset = config.seq_instruct.recorded_subset if config.seq_instruct else None
    if subset is None:
        return {}, "seq_instruct.recorded_subset is null"
    try:
        return agreement_by_file(data_dir=data_dir(config), subset=subset), None
    except DataNotFoundError as err:  # the recorded files have no hub copy
        return {}, f"recorded outputs not found: {err}"


def texts(client: LLMClient) -> Callable[[Sequence[Any]], list[str]]:
    """`client.complete` as the `complete(messages) -> list[str]` the judge takes; a request that failed after its
    retries becomes "" (so the judge counts it as unparseable) and stays counted in `client.totals.failures`."""
    return lambda conversations: [r.text or "" for r in client.complete(list(conversations))]


def seqeval_rewrite(client: LLMClient, seed: int) -> Callable[[list[dict], list[str]], list[dict]]:
    """The `rewrite(records, options)` of `seqeval.construct`: one Seq-Instruct step with the option forced."""

    def rewrite(records: list[dict], options: list[str]) -> list[dict]:
        return seq_instruct.seq_instruct_step(records, client.complete, seed=seed, options=options)

    return rewrite


def answer(
    config: Config, records: list[dict], runs: list[str], root: str | Path = "."
) -> dict[str, dict[int, list[str]]]:
    """Greedy answers of every model of `runs` (registry names; each of its seeds) to `records`:
    {run: {seed: [output, ...]}}."""
    out: dict[str, dict[int, list[str]]] = {}
    for run in runs:
        spec = config.runs[run]
        template = config.model.base_models[spec.base or config.model.base].prompt_template
        for seed in spec.seeds or config.experiment.seeds:
            model_dir = experiment.profile_dir(config, root) / "models" / f"{run}-{seed}"
            out.setdefault(run, {})[seed] = experiment.generate_sets(config, model_dir, {"x": records}, template)["x"]
    return out


def judge_answers(
    config: Config, records: list[dict], answers: dict[str, dict[int, list[str]]], client: LLMClient
) -> dict[str, Any]:
    """SeqEval judging (App. B.5): per model and seed the single-answer verdicts summarised overall and per
    `iteration` (Table 13 / Figure 2), and the both-orders win rate of `seqeval.pairwise[0]` against `[1]`.
    Means over seeds are under `mean`. Every verdict is returned under `verdicts` (for the generations file)."""
    queries = [user_message(r["instruction"], r.get("input") or "") for r in records]
    groups = [None if r.get("iteration") is None else int(r["iteration"]) for r in records]  # published: "4"
    complete = texts(client)
    single, by_iteration, verdicts = {}, {}, []
    for variant, by_seed in answers.items():
        for seed, outputs in by_seed.items():
            judged = judge.judge_single(queries, outputs, complete)
            single.setdefault(variant, {})[seed] = judge.summarize(judged)
            by_iteration.setdefault(variant, {})[seed] = judge.summarize_by(judged, groups)
            verdicts += [
                {"model": variant, "seed": seed, "id": r.get("id"), "iteration": g, "output": o,
                 "answered": v.answered, "rating": v.rating, "reason": v.reason, "reply": v.reply}
                for r, g, o, v in zip(records, groups, outputs, judged, strict=True)
            ]  # fmt: skip
    first, second = config.seqeval.pairwise
    missing = [run for run in (first, second) if run not in answers]
    if missing:
        raise ValueError(
            f"seqeval.pairwise = {config.seqeval.pairwise}: {missing} not among the judged runs "
            f"({', '.join(answers)}); judged are the rows of the tables that read seqeval (params `tables:`)"
        )
    pairwise = {}
    for seed in sorted(set(answers[first]) & set(answers[second])):
        result = judge.win_rate(queries, answers[first][seed], answers[second][seed], complete)
        pairwise[seed] = {k: v for k, v in result.items() if k != "outcomes"}
    means = {
        variant: {key: _mean(s[key] for s in by_seed.values()) for key in ("score", "follow_rate")}
        for variant, by_seed in single.items()
    }
    means[first]["win_rate"] = _mean(p["win_rate"] for p in pairwise.values())
    return {
        "single": single,
        "by_iteration": by_iteration,
        "pairwise": {"model": first, "reference": second, "by_seed": pairwise},
        "mean": means,
        "verdicts": verdicts,
    }


def _mean(values: Any) -> float | None:
    values = [v for v in values if v is not None]
    return mean(values) if values else None


def seqeval_table(results: dict[str, Any]) -> str:
    """Markdown: per model, mean over seeds of Score (1-5) and Follow rate, parse counts, and the win rate."""
    rows = ["| model | n | score (1-5) | follow rate | unparseable | win rate |", "|---|---:|---:|---:|---:|---:|"]
    pair = results["pairwise"]
    for variant, by_seed in results["single"].items():
        means = results["mean"][variant]
        n = sum(s["n"] for s in by_seed.values())
        bad = sum(s["n_unparseable"] for s in by_seed.values())
        win = f"{_fmt(means['win_rate'])} vs {pair['reference']}" if "win_rate" in means else ""
        rows.append(f"| {variant} | {n} | {_fmt(means['score'])} | {_fmt(means['follow_rate'])} | {bad} | {win} |")
    return "\n".join(rows) + "\n"


def construction_report(construction: seqeval.Construction) -> str:
    """Per SeqEval construction round (`seqeval.construct`'s result): forced options, how many instructions were
    really rewritten, and the parse reasons of those held; then the benchmark's items per round."""
    per_round = seqeval.count_by_iteration(construction.benchmark)
    lines = [f"constructed {len(construction.benchmark)} items; per round {per_round}"]
    for k, rows in enumerate(construction.rounds, start=1):
        held = [r for r in rows if r["instruction"] == r["parent_instruction"]]
        reasons = sorted({str(r["reasons"]) for r in held})
        lines.append(
            f"round {k}: forced options {seqeval.option_counts(rows)}; rewritten {len(rows) - len(held)}/{len(rows)}; "
            f"held because {reasons[:3]}"
        )
    return "\n".join(lines)


def rounds_report(results: dict[str, Any]) -> str:
    """One line per model and seed of `judge_answers`' per-round summaries (Table 13 / Figure 2 data)."""
    lines = []
    for variant, by_seed in results["by_iteration"].items():
        for seed, groups in by_seed.items():
            cells = ", ".join(
                f"round {g}: score {s['score']}, follow {s['follow_rate']} ({s['n_parsed']}/{s['n']} parsed)"
                for g, s in groups.items()
            )
            lines.append(f"{variant}-{seed}: {cells}")
    return "\n".join(lines)


def stats_dict(stats: Stats) -> dict[str, Any]:
    """A client's counts as plain data for a metrics file."""
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in vars(stats).items()}


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"
