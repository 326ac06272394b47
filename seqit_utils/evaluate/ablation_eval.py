"""Table 6/12 and the §5.2 swaps (notebook 12): the registry's runs that list `table_6`, `table_12` or
`model_swaps` in their `tables`, evaluated on the profile's evaluation sets (`eval_sets`: `experiment.eval_sets`, those
of `ablations.eval_sets` when given) and scored as in
the IT-vs-SIT experiment (follow rate, final-answer accuracy). Every seed of each run (`runs.seeds`) is evaluated;
`metrics/ablation_eval.json` holds, per run and set, the mean and sample sd over seeds and the per-seed values
(`summarize_seeds`), which the claims table (`seqit_utils.analysis.claims`) reads.
"""

from __future__ import annotations

from pathlib import Path
from statistics import mean, stdev
from typing import Any

from seqit_utils.config import Config
from seqit_utils.train import experiment, runs

# The paper-layout Tables 6 and 12 (Table 5's benchmarks, SeqEval) are written by stages auto_sit_eval / seqeval;
# these are their task-suite counterparts (follow rate and accuracy on the suite's sets), written beside them.
FILE_NAMES = {"table_6": "table_6_suite.md", "table_12": "table_12_suite.md", "model_swaps": "model_swaps.md"}
TABLE_TITLES = {
    "table_6": "Table 6 (§5.1): data-level and instance-level ablations",
    "table_12": "Table 12 (§5.1): SIT-split and SIT-multi",
    "model_swaps": "§5.2: generator and base-model swaps",
}


def table_runs(config: Config) -> dict[str, str]:
    """Run name → the model key (`<run>-<first seed>`, whose training metrics the tables show) of every trained run
    in one of `TABLE_TITLES`' tables; `evaluate_runs` evaluates every seed of each."""
    return {
        name: f"{name}-{runs.seeds(config, name)[0]}"
        for name, run in config.runs.items()
        if set(run.tables) & set(TABLE_TITLES) and runs.unbuilt(config, name) is None  # (`seqit runs` says why not)
    }


def eval_sets(config: Config, root: str | Path = ".") -> dict[str, list[dict[str, Any]]]:
    """The evaluation sets of notebook 12: `experiment.eval_sets`, only those named in `ablations.eval_sets` when
    given (a name the profile has no set for is an error naming the ones it has)."""
    sets = experiment.eval_sets(config, root)
    wanted = config.ablations.eval_sets if config.ablations is not None else None
    if wanted is None:
        return sets
    unknown = [name for name in wanted if name not in sets]
    if unknown:
        raise ValueError(f"ablations.eval_sets: {unknown} are not evaluation sets of profile {config.profile!r} "
                         f"(it has {sorted(sets)})")  # fmt: skip
    return {name: sets[name] for name in wanted}


def evaluate_runs(
    config: Config, sets: dict[str, list[dict[str, Any]]], root: str | Path = "."
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Greedy outputs of every seed's model of every run on every set, scored as in the IT-vs-SIT experiment (follow
    rate, final-answer accuracy). Returns `{run: {set: summarize_seeds(...)}}` and one generation record per (run,
    seed, set, item)."""
    reports: dict[str, dict[str, Any]] = {}
    generations: list[dict[str, Any]] = []
    for name in table_runs(config):
        per_seed: dict[int, dict[str, Any]] = {}
        for seed in runs.seeds(config, name):
            key = f"{name}-{seed}"
            model_dir = runs.model_dir(config, key, root)
            if not model_dir.is_dir():
                raise FileNotFoundError(f"{model_dir}: run {key!r} is not trained; run `dvc repro train@{key}`")
            outputs = experiment.generate_sets(config, model_dir, sets, template=runs.template(config, name))
            per_seed[seed] = {}
            for set_name, records in sets.items():
                per_seed[seed][set_name] = experiment.score(
                    outputs[set_name], records, config.experiment.follow_threshold
                )
                generations += [
                    {"run": name, "seed": seed, "set": set_name, "id": r["id"], "output": o, "gold": r["output"]}
                    for r, o in zip(records, outputs[set_name], strict=True)
                ]
        reports[name] = {
            set_name: summarize_seeds({s: by_set[set_name] for s, by_set in per_seed.items()}) for set_name in sets
        }
    return reports, generations


SEED_METRICS = ("follow_all", "accuracy", "intermediate_exact")


def summarize_seeds(per_seed: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """One (run, set) over its seeds' reports (`experiment.score`): `n`, `n_multi_step`, `seeds`; per metric of
    `SEED_METRICS` the mean and `<metric>_sd` (sample sd; 0.0 with one seed; None where no seed has a value) over the
    seeds; `per_seed` `{"<seed>": {metric: value}}` (string keys, as in `metrics/miniature.json`)."""
    seeds = sorted(per_seed)
    first = per_seed[seeds[0]]
    out: dict[str, Any] = {"n": first["n"], "n_multi_step": first.get("n_multi_step"), "seeds": seeds}
    for metric in SEED_METRICS:
        values = [per_seed[s][metric] for s in seeds if per_seed[s].get(metric) is not None]
        out[metric] = mean(values) if values else None
        out[f"{metric}_sd"] = (stdev(values) if len(values) > 1 else 0.0) if values else None
    out["per_seed"] = {str(s): {m: per_seed[s].get(m) for m in SEED_METRICS} for s in seeds}
    return out


def evaluated_seeds(reports: dict[str, dict[str, Any]]) -> list[int]:
    """Every seed any run was evaluated with (the metrics file's provenance)."""
    return sorted({seed for by_set in reports.values() for cell in by_set.values() for seed in cell["seeds"]})


def _cell(cell: dict[str, Any], metric: str) -> str:
    """`mean ± sd` over seeds ("mean" alone for one seed, "–" without a value)."""
    if cell[metric] is None:
        return "–"
    return f"{cell[metric]:.2f}" + (f" ± {cell[f'{metric}_sd']:.2f}" if len(cell["seeds"]) > 1 else "")


def table_markdown(config: Config, table: str, reports: dict[str, dict[str, Any]], train: dict[str, Any]) -> str:
    """One ablation table: a row per run of `table` (training set, base, examples/steps seen, seeds), follow rate
    and accuracy per evaluation set as mean ± sd over the run's seeds."""
    listed = {name: run for name, run in config.runs.items() if table in run.tables and name in reports}
    if not listed:
        return f"## {TABLE_TITLES[table]}\n\nNo run of profile {config.profile!r} lists {table!r} in its `tables`.\n"
    sets = list(next(iter(reports.values())))
    columns = " | ".join(f"{s} follow | {s} acc" for s in sets)
    head = f"| run | trained on | base | setup | examples | steps | seeds | {columns} |"
    lines = [f"## {TABLE_TITLES[table]}", "", head, "|---|---|---|---|---:|---:|---|" + "---:|---:|" * len(sets)]
    for name, run in listed.items():
        seen = train.get(name, {})
        source = run.train or run.transform + (f" by {run.generator}" if run.generator else "")
        base = (
            f"run {run.init}"
            if run.init
            else (run.base or config.model.base)
            + (f" ({', '.join(f'{k}={v}' for k, v in run.tiny.items())})" if run.tiny else "")
        )
        changed = ", ".join(f"{k}={v}" for k, v in run.train_overrides.items() if k != "lr_scheduler_kwargs")
        setup = (run.setup or config.train.setup) + (f" ({changed})" if changed else "")
        cells = " | ".join(
            f"{_cell(reports[name][s], 'follow_all')} | {_cell(reports[name][s], 'accuracy')}" for s in sets
        )
        examples, steps = seen.get("train_examples", "–"), seen.get("global_step", "–")
        seeds = ", ".join(map(str, next(iter(reports[name].values()))["seeds"]))
        lines.append(f"| {name} | {source} | {base} | {setup} | {examples} | {steps} | {seeds} | {cells} |")
    note = (
        f"\nProfile {config.profile!r}; mean ± sample sd over each run's seeds (column seeds; the mean alone for one "
        f"seed); examples/steps of its first seed; greedy decoding; follow = every step followed (ROUGE-L ≥ "
        f"{config.experiment.follow_threshold}), acc = final answer.\n"
    )
    return "\n".join(lines) + "\n" + note
