"""Following and accuracy against the number of tasks (1-5) on the task suite, judged by ground truth.

The direction of the paper's Figure 2 / Table 13 (§5.3: SeqEval, judged by an LLM, per Seq-Instruct iteration),
measured on the miniature instead: the suite's evaluation sets of 1 to 5 chained tasks (`SET_TASKS`), scored against
their exact step outputs (follow = every step followed, accuracy = final answer exact; notebook 06,
`metrics/miniature.json`). One line per run (and the shortcut baseline), mean ± sample sd over the run's seeds.

Notebook 10 computes the values (`number_of_tasks_suite`) into `analysis/number_of_tasks_suite.json`; stage
`figures` draws `figures/<profile>_number_of_tasks_suite.png/.pdf` from that file alone (`draw`). The SeqEval
version (`figures.number_of_tasks`) is unchanged beside it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from statistics import mean, stdev
from typing import Any

from seqit_utils.analysis import verb_noun as vn
from seqit_utils.config import Config
from seqit_utils.train import experiment

FILE_NAME = "number_of_tasks_suite.json"
# Evaluation set (experiment.SUITE_EVAL_SETS) → number of tasks in each of its instructions. two_step_unseen is left
# out: its first step was never an intermediate step in training, a different question from chain length.
SET_TASKS = {"single": 1, "two_step_seen": 2, "chain3": 3, "chain4": 4, "chain5": 5}
METRICS = ("follow_all", "accuracy")
BASELINE = "shortcut"  # not a model: the last step applied to the raw input (experiment.shortcut_outputs)


def seed_stats(values: list[float]) -> tuple[float | None, float | None]:
    """(mean, sample sd) of per-seed values; sd 0.0 with one seed; (None, None) with none."""
    if not values:
        return None, None
    return mean(values), stdev(values) if len(values) > 1 else 0.0


def point(cell: Mapping[str, Any]) -> dict[str, Any]:
    """One (run, set) cell of miniature.json as a curve point: per metric the mean and sd over the cell's seeds
    (`per_seed`; a seed without a value is left out), n and the seeds."""
    per_seed = cell.get("per_seed") or {}
    out: dict[str, Any] = {"n": cell.get("n"), "seeds": sorted(int(s) for s in per_seed)}
    for metric in METRICS:
        if per_seed:
            values = [v[metric] for v in per_seed.values() if v.get(metric) is not None]
        else:  # an aggregate without per-seed values: its mean, no spread
            values = [cell[metric]] if cell.get(metric) is not None else []
        out[metric], out[f"{metric}_sd"] = seed_stats(values)
    return out


def tasks_curve_suite(miniature: Mapping[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    """`{run: {number of tasks: point}}` from notebook 06's `miniature.json` (keys `<set>.<run>`); sets not in
    `SET_TASKS` (and non-result keys: seeds, provenance) are ignored."""
    curve: dict[str, dict[int, dict[str, Any]]] = {}
    for key, cell in miniature.items():
        test_set, dot, run = key.partition(".")
        if dot and test_set in SET_TASKS and isinstance(cell, Mapping):
            curve.setdefault(run, {})[SET_TASKS[test_set]] = point(cell)
    return {run: dict(sorted(points.items())) for run, points in sorted(curve.items())}


def number_of_tasks_suite(config: Config, root: str | Path = ".") -> dict[str, Any]:
    """The suite curve of the profile from `metrics/miniature.json`: `{"source", "sets", "curve": {run:
    {"<tasks>": point}}}` (JSON keys are text). FileNotFoundError naming the stage when the metrics are missing."""
    path = experiment.profile_dir(config, root) / "metrics" / "miniature.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; run notebook 06 first (`dvc repro manual_sit_eval`)")
    curve = tasks_curve_suite(json.loads(path.read_text(encoding="utf-8")))
    plain = {run: {str(n): p for n, p in points.items()} for run, points in curve.items()}
    return {"source": str(path.relative_to(root)), "sets": SET_TASKS, "curve": plain}


def as_curve(suite: Mapping[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    """The curve of `number_of_tasks_suite`'s result (or its JSON file) with integer task counts again."""
    return {run: {int(n): p for n, p in points.items()} for run, points in suite["curve"].items()}


def summary(suite: Mapping[str, Any]) -> str:
    """One line per run: follow/accuracy means per number of tasks (for the notebook's report)."""
    lines = []
    for run, points in as_curve(suite).items():
        cells = [f"{n}: {_fmt(p['follow_all'])}/{_fmt(p['accuracy'])}" for n, p in points.items()]
        lines.append(f"{run} (follow/acc by number of tasks) {', '.join(cells)}")
    return "\n".join(lines) or "no task-suite evaluation set in metrics/miniature.json"


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def title(profile: str) -> str:
    """The figure's title: what it measures and on what (never mistaken for the paper's Figure 2)."""
    return f"[{profile}] number of tasks: task suite, ground truth, tiny models (mean ± sd over seeds)"


def suite_figure(curve: Mapping[str, Mapping[int, Mapping[str, Any]]], heading: str) -> Any:
    """Following rate and accuracy (%) against the number of tasks, one line per run with sd error bars (dodged
    sideways a little, so runs with equal values stay visible); the shortcut baseline dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ticks = sorted(set(SET_TASKS.values()))
    panels = (("follow_all", "following rate (%)"), ("accuracy", "accuracy (%)"))
    for ax, (metric, label) in zip(axes, panels, strict=True):
        for i, (run, points) in enumerate(sorted(curve.items())):
            xs = [n for n in sorted(points) if points[n][metric] is not None]
            if not xs:
                continue
            dodge = 0.06 * (i - (len(curve) - 1) / 2)
            ys = [points[n][metric] * 100 for n in xs]
            errors = [(points[n][f"{metric}_sd"] or 0.0) * 100 for n in xs]
            style = {"linestyle": "--", "color": "grey"} if run == BASELINE else {}
            ax.errorbar([x + dodge for x in xs], ys, yerr=errors, marker="o", capsize=3, label=run, **style)
        ax.set(xlabel="number of tasks", ylabel=label, ylim=(-5, 105), xticks=ticks)
        ax.set_xlim(ticks[0] - 0.5, ticks[-1] + 0.5)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    fig.suptitle(heading)
    return fig


def draw(profile: str, suite: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    """Stage `figures`: `<profile>_number_of_tasks_suite.png/.pdf` into `folder` from the analysis file's content;
    an index entry (what was drawn, its files). Nothing is drawn when no run has a suite set (e.g. `paper`)."""
    curve = as_curve(suite)
    if not curve:
        return {**suite, "files": [], "skipped": "no task-suite evaluation set in metrics/miniature.json"}
    files = vn.save_figures(suite_figure(curve, title(profile)), folder / f"{profile}_number_of_tasks_suite")
    return {**suite, "files": [p.name for p in files]}
