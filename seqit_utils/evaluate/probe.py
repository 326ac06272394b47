"""The motivation probe (§1, Table 1): do base, IT and SIT models follow "repeat the input, then answer"?

For each model: the following rate of the repetition (R), of the answer (A) and of both (R+A), and how close the
repetition is to the input (ROUGE-L, and BERTScore with the offline MiniLM encoder; the paper's default encoder
needs the hub). Smoke: the task suite's "First repeat the input, then ..." set; sample adds CommonsenseQA.
"""

from __future__ import annotations

from pathlib import Path
from statistics import mean
from typing import Any

from seqit_utils.config import Config
from seqit_utils.evaluate import metrics
from seqit_utils.train import experiment

SCORES = ("rouge_l_R", "bertscore_R", "follow_R", "follow_A", "follow_RA", "accuracy")


def probe_report(outputs: list[str], records: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """Table 1 (§1 probe) for "repeat the input, then answer" records: following rates of the repetition (R), the
    answer (A) and both (R+A), and ROUGE-L / BERTScore (offline MiniLM encoder) of the repetition part vs the input.
    """
    rows = [
        metrics.follow_steps(o, [s["output"] for s in experiment.gold_steps(r)], threshold)
        for o, r in zip(outputs, records, strict=True)
    ]
    parts = [row["steps"][0]["part"] for row in rows]
    golds = [experiment.gold_steps(r)[0]["output"] for r in records]
    bert = metrics.bertscore(parts, golds)
    scores = {
        "follow_R": [row["steps"][0]["followed"] for row in rows],
        "follow_A": [row["steps"][-1]["followed"] for row in rows],
        "follow_RA": [row["follow_all"] for row in rows],
        "rouge_l_R": [row["steps"][0]["rouge"] for row in rows],
        "bertscore_R": [bert["mean"]],
        "accuracy": [row["final_exact"] for row in rows],
    }
    return {key: float(mean(values)) for key, values in scores.items()} | {
        "n": len(rows),
        "bertscore_encoder": bert["encoder"],
    }


def repeat_sets(sets: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The evaluation sets whose first step is a repeat of the input (the probe's "repeat then answer" prompts)."""
    return {
        name: records
        for name, records in sets.items()
        if records
        and all(
            len(experiment.gold_steps(r)) == 2 and experiment.gold_steps(r)[0]["task"] == "repeat" for r in records
        )
    }


def run_probe(
    config: Config, sets: dict[str, list[dict[str, Any]]], runs: list[str], root: str | Path = "."
) -> dict[str, Any]:
    """Probe the untuned base and the models of `runs` (Table 1's rows) of every seed on the repeat sets; mean over
    seeds per model/set."""
    threshold = config.experiment.follow_threshold
    reports: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for seed in config.experiment.seeds:
        for model in ("base", *runs):
            if model != "base" and seed not in (config.runs[model].seeds or config.experiment.seeds):
                continue
            path = (
                experiment.base_model(config, seed, root)
                if model == "base"
                else experiment.profile_dir(config, root) / "models" / f"{model}-{seed}"
            )
            template = (
                None
                if model == "base"
                else config.model.base_models[config.runs[model].base or config.model.base].prompt_template
            )
            for name, outputs in experiment.generate_sets(config, path, sets, template).items():
                reports.setdefault(name, {}).setdefault(model, []).append(probe_report(outputs, sets[name], threshold))
    summary: dict[str, Any] = {"seeds": list(config.experiment.seeds)}
    for name, by_model in reports.items():
        for model, runs in by_model.items():
            summary[f"{name}.{model}"] = {k: mean(r[k] for r in runs) for k in SCORES} | {
                "n": runs[0]["n"],
                "bertscore_encoder": runs[0]["bertscore_encoder"],
            }
    return summary


def probe_table(summary: dict[str, Any]) -> str:
    """Markdown in the layout of Table 1: one row per set × model."""
    rows = ["| set | model | n | ROUGE-L (R) | BERTScore (R) | follow R | follow A | follow R+A | accuracy |"]
    rows.append("|---|---|---:|" + "---:|" * len(SCORES))
    for key, cell in summary.items():
        if key == "seeds":
            continue
        name, model = key.rsplit(".", 1)
        rows.append(f"| {name} | {model} | {cell['n']} | " + " | ".join(f"{cell[c]:.2f}" for c in SCORES) + " |")
    encoder = next(c["bertscore_encoder"] for k, c in summary.items() if k != "seeds")
    return "\n".join(rows) + f"\n\nMeans over seeds {summary['seeds']}; BERTScore encoder: {encoder}.\n"
