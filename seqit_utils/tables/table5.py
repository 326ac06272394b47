"""Table 5's benchmarks that need more than our prompts (notebook 08): the lm-evaluation-harness tasks (MMLU,
ARC-Challenge, GSM8K, HumanEval via `seqit_utils.evaluate.harness`) and AlpacaEval's win rate against a recorded
reference
model (our judge in both orders, or the `alpaca_eval` package's annotator; `seqit_utils.evaluate.alpaca_eval_run`).

Harness results are cached per (model, task) in `outputs/<profile>/eval_cache/harness/` under a key of the model's
files and the run's settings, so a re-run or a resumed run evaluates only what is missing.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from seqit_utils import io
from seqit_utils.config import Config, data_dir
from seqit_utils.evaluate import alpaca_eval_run, cached_generation, evaluation, harness, harness_tasks
from seqit_utils.evaluate.models import EvalModel, for_benchmark, model_fingerprint
from seqit_utils.tables.layout import as_number


def harness_settings(config: Config) -> dict[str, Any]:
    """What decides a harness run besides the model: tasks, limit, shots, generation cap, seed, local data files."""
    spec = config.evaluation.harness
    folder = data_dir(config)
    files = harness_tasks.local_data_files(folder) if folder else {}
    return {
        "limit": spec.limit,
        "batch_size": spec.batch_size,
        "gen_kwargs": {"max_gen_toks": spec.max_gen_toks} if spec.max_gen_toks else None,
        "seed": config.seed,
        "data_files": {name: {s: str(p) for s, p in splits.items()} for name, splits in files.items()},
    }


def run_harness(
    config: Config, models: Mapping[str, EvalModel], root: str | Path = "."
) -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, str]]:
    """Harness results `{task: {model: row}}` (row: the harness's "<metric>,<filter>" values and `n_samples`) and
    `{task: reason}` for tasks that did not run: not configured, lm_eval not installed (the `eval` extra), HumanEval
    without `allow_code_execution`, data not available (offline without local files), or only endpoint models."""
    spec = config.evaluation.harness if config.evaluation else None
    if spec is None:
        reason = f"not configured: params/{config.profile}.yaml has no evaluation.harness"
        return {}, dict.fromkeys(evaluation.HARNESS_BENCHMARKS, reason)
    skipped = {
        task: f"not configured: evaluation.harness.tasks does not list {task}"
        for task in evaluation.HARNESS_BENCHMARKS
        if task not in spec.tasks
    }
    tasks = [t for t in spec.tasks if t not in skipped]
    if "humaneval" in tasks and not spec.allow_code_execution:
        skipped["humaneval"] = (
            "code execution not allowed: HumanEval runs model-written code; set evaluation.harness."
            "allow_code_execution: true (preferably in a sandbox)"
        )
        tasks.remove("humaneval")
    if tasks and importlib.util.find_spec("lm_eval") is None:
        reason = "lm-evaluation-harness is not installed: pip install -e '.[eval]'"
        return {}, skipped | dict.fromkeys(tasks, reason)
    settings = harness_settings(config)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for name, model in models.items():
        if model.endpoint is not None:
            for task in tasks:
                skipped.setdefault(task, f"{name}: endpoint models are not run through the harness here")
            continue
        key = {"model": model_fingerprint(model.path), **settings}
        paths = {t: _cache_path(config, root, name, t, key) for t in tasks if model.runs(t)}
        todo = [t for t in paths if not paths[t].is_file()]
        if todo:
            report = harness.run_tasks(
                model.path,
                todo,
                seed=settings["seed"],
                data_files=settings["data_files"],
                limit=settings["limit"],
                batch_size=settings["batch_size"],
                gen_kwargs=settings["gen_kwargs"],
                allow_code_execution=spec.allow_code_execution,
            )
            for task in todo:
                if task in report["results"]:
                    io.write_json(paths[task], {"task": task, "model": name, "row": report["results"][task]})
            for task, reason in report["skipped"].items():  # data not available: not asked again for the next models
                skipped[task] = reason
                tasks.remove(task)
        for task in tasks:
            if task in paths and paths[task].is_file():
                results.setdefault(task, {})[name] = json.loads(paths[task].read_text(encoding="utf-8"))["row"]
    return results, skipped


def evaluate_harness(
    config: Config, models: Mapping[str, EvalModel], root: str | Path = "."
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """`run_harness` as metrics files: `{task: benchmark metrics (per model and group)}` and the skipped tasks."""
    results, skipped = run_harness(config, models, root)
    chosen = {name: models[name] for rows in results.values() for name in rows}
    out = {
        task: evaluation.benchmark_metrics(task, chosen, harness_metrics(task, rows)) for task, rows in results.items()
    }
    return out, {task: reason for task, reason in skipped.items() if task not in out}


def _cache_path(config: Config, root: str | Path, model: str, task: str, key: Mapping[str, Any]) -> Path:
    name = f"{task}-{io.stable_hash({**key, 'task': task})[:16]}.json"
    return cached_generation.cache_dir(config, root) / "harness" / model / name


def harness_metrics(task: str, rows: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """One model's harness row as our metrics: `{"all": {accuracy | pass@1, pass@10, ..., n}}`, names from
    `evaluation.HARNESS_METRICS`."""
    names = evaluation.HARNESS_METRICS[task]
    out = {}
    for model, row in rows.items():
        values = {ours: as_number(row.get(theirs), f"{task} of {model}: {theirs}") for ours, theirs in names.items()}
        out[model] = {"all": {**values, "n": row.get("n_samples")}}
    return out


def evaluate_alpaca_eval(
    config: Config, models: Mapping[str, EvalModel], root: str | Path = "."
) -> tuple[dict[str, Any] | None, dict[str, str], list[dict[str, Any]]]:
    """AlpacaEval for every model: generate (cached), judge with `llm.judge` (its requests cached), and return the
    metrics file content (None when skipped), `{"alpaca_eval": reason}` when skipped (else {}) and the generation
    rows."""
    from seqit_utils.llm import endpoints
    from seqit_utils.llm import stages as llm_stages

    sets, skipped = evaluation.prompt_sets(config, ["alpaca_eval"])
    if "alpaca_eval" in skipped:
        return None, skipped, []
    if config.evaluation.alpaca_eval.method == "package" and importlib.util.find_spec("alpaca_eval") is None:
        return None, {"alpaca_eval": "alpaca_eval is not installed (method: package): pip install -e '.[eval]'"}, []
    models = for_benchmark(models, "alpaca_eval")
    if not models:
        return None, {"alpaca_eval": "no run of params `tables:` is a row of a table that reads alpaca_eval"}, []
    alpaca_eval_run.check_judge_key(config)  # before generating, not after
    outputs = cached_generation.generate(config, models, sets, root)
    out = evaluation.experiment.profile_dir(config, root) / "alpaca_eval"
    per_model = {}
    with endpoints.open_client(config, "judge", root) as client:
        for name in models:
            per_model[name] = alpaca_eval_metrics(
                config,
                name,
                sets["alpaca_eval"],
                outputs[name]["alpaca_eval"],
                complete=llm_stages.texts(client),
                endpoint=(client.base_url, client.model, client.api_key_env),
                out_dir=out / name,
            )
    rows = evaluation.generation_records(sets, outputs, {})
    metrics = evaluation.benchmark_metrics("alpaca_eval", models, per_model)
    return {**metrics, "client": llm_stages.stats_dict(client.totals)}, {}, rows


def alpaca_eval_metrics(
    config: Config,
    name: str,
    sets: Mapping[str, list[dict[str, Any]]],
    outputs: Mapping[str, list[str]],
    complete: Callable[[Any], list[str]] | None = None,
    endpoint: tuple[str, str, str] | None = None,
    out_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Win rate (fraction) of model `name`'s AlpacaEval outputs against the reference model's recorded outputs.

    `evaluation.alpaca_eval.method`: `judge` scores with `complete` (our judge, both orders of every pair); `package`
    runs the alpaca_eval annotator against `endpoint` = (base_url, model, api_key_env), writing into `out_dir`.
    """
    spec = config.evaluation.alpaca_eval
    references = sets["all"]
    mine = [
        {"instruction": r["instruction"], "output": o, "generator": name}
        for r, o in zip(references, outputs["all"], strict=True)
    ]
    if spec.method == "judge":
        result = alpaca_eval_run.judge_win_rate(mine, references, complete)
        result.pop("outcomes", None)
    else:
        base_url, model, key_env = endpoint
        result = alpaca_eval_run.alpaca_eval_win_rate(
            mine, references, base_url=base_url, model=model, api_key_env=key_env,
            output_dir=out_dir, cache_dir=Path(out_dir) / "cache",
        )  # fmt: skip
    return {"all": {**result, "method": spec.method, "reference": spec.reference}}
