"""Table 6/12 and the §5.2 swaps (notebook 12): the registry's runs that list `table_6`, `table_12` or
`model_swaps` in their `tables`, evaluated on the profile's evaluation sets (`experiment.eval_sets`) and scored as in
the IT-vs-SIT experiment (follow rate, final-answer accuracy). Each run's model of its first seed is evaluated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqit_utils.config import Config
from seqit_utils.train import experiment, runs

TABLE_TITLES = {
    "table_6": "Table 6 (§5.1): data-level and instance-level ablations",
    "table_12": "Table 12 (§5.1): SIT-split and SIT-multi",
    "model_swaps": "§5.2: generator and base-model swaps",
}


def table_runs(config: Config) -> dict[str, str]:
    """Run name → the model key (`<run>-<first seed>`) of every trained run in one of `TABLE_TITLES`' tables."""
    return {
        name: f"{name}-{runs.seeds(config, name)[0]}"
        for name, run in config.runs.items()
        if set(run.tables) & set(TABLE_TITLES) and runs.unbuilt(config, name) is None  # (`seqit runs` says why not)
    }


def evaluate_runs(
    config: Config, sets: dict[str, list[dict[str, Any]]], root: str | Path = "."
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Greedy outputs of every run's model on every set, scored as in the IT-vs-SIT experiment (follow rate,
    final-answer accuracy). Returns `{run: {set: report}}` and one generation record per (run, set, item)."""
    reports: dict[str, dict[str, Any]] = {}
    generations: list[dict[str, Any]] = []
    for name, key in table_runs(config).items():
        model_dir = runs.model_dir(config, key, root)
        if not model_dir.is_dir():
            raise FileNotFoundError(f"{model_dir}: run {key!r} is not trained; run `dvc repro train@{key}`")
        outputs = experiment.generate_sets(config, model_dir, sets, template=runs.template(config, name))
        reports[name] = {}
        for set_name, records in sets.items():
            reports[name][set_name] = experiment.score(outputs[set_name], records, config.experiment.follow_threshold)
            generations += [
                {"run": name, "set": set_name, "id": r["id"], "output": o, "gold": r["output"]}
                for r, o in zip(records, outputs[set_name], strict=True)
            ]
    return reports, generations


def table_markdown(config: Config, table: str, reports: dict[str, dict[str, Any]], train: dict[str, Any]) -> str:
    """One ablation table: a row per run of `table` (training set, base, examples/steps seen), follow rate and
    accuracy per evaluation set."""
    listed = {name: run for name, run in config.runs.items() if table in run.tables and name in reports}
    if not listed:
        return f"## {TABLE_TITLES[table]}\n\nNo run of profile {config.profile!r} lists {table!r} in its `tables`.\n"
    sets = list(next(iter(reports.values())))
    columns = " | ".join(f"{s} follow | {s} acc" for s in sets)
    head = f"| run | trained on | base | setup | examples | steps | {columns} |"
    lines = [f"## {TABLE_TITLES[table]}", "", head, "|---|---|---|---|---:|---:|" + "---:|---:|" * len(sets)]
    for name, run in listed.items():
        seen = train.get(name, {})
        source = run.train or run.transform + (f" by {run.generator}" if run.generator else "")
        base = (run.base or config.model.base) + (
            f" ({', '.join(f'{k}={v}' for k, v in run.tiny.items())})" if run.tiny else ""
        )
        changed = ", ".join(f"{k}={v}" for k, v in run.train_overrides.items() if k != "lr_scheduler_kwargs")
        setup = (run.setup or config.train.setup) + (f" ({changed})" if changed else "")
        cells = " | ".join(f"{reports[name][s]['follow_all']:.2f} | {reports[name][s]['accuracy']:.2f}" for s in sets)
        examples, steps = seen.get("train_examples", "–"), seen.get("global_step", "–")
        lines.append(f"| {name} | {source} | {base} | {setup} | {examples} | {steps} | {cells} |")
    note = (
        f"\nProfile {config.profile!r}; each run's first seed; greedy decoding; follow = every step followed "
        + "(ROUGE-L ≥ "
        + f"{config.experiment.follow_threshold}), acc = final answer.\n"
    )
    return "\n".join(lines) + "\n" + note
