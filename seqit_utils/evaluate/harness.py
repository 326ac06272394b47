"""Table 5's generic benchmarks (MMLU, ARC-Challenge, GSM8K, HumanEval) through lm-evaluation-harness.

Nothing here re-implements a benchmark: prompts, few-shot sampling, answer filters and metrics are the harness's
own. MMLU (5-shot) and ARC-Challenge (25-shot) are the harness's standard tasks, which read their data from the
Hugging Face hub. GSM8K (8-shot) and HumanEval (pass@10, temperature 0.1) are task YAMLs in `templates/lm_eval/`
built on the harness's tasks; they read the published files (GSM8K's train/test.jsonl, HumanEval.jsonl.gz) when
`data_files` names them, else the harness's hub datasets. The data paths are filled in at run time
(`render_tasks`), never written into the YAML files. The benchmarks' settings and that rendering are in
`seqit_utils.evaluate.harness_tasks`; this module runs them (`run_tasks`, `replay_model`).

A benchmark whose data cannot be loaded (offline, not cached) is reported under `skipped` with the error, and the
others still run. `replay_model` answers requests with given text instead of a model (gold answers, or outputs
recorded elsewhere), which checks or reuses the harness's scoring without any model.

lm_eval is an optional dependency (the `eval` extra); it is imported only when a function here runs.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from seqit_utils.evaluate.harness_tasks import BENCHMARKS, DataFiles, render_tasks
from seqit_utils.io import write_metrics

logger = logging.getLogger(__name__)


def run_tasks(
    model: str | Path | Any,
    tasks: Sequence[str],
    *,
    seed: int,
    data_files: DataFiles | None = None,
    limit: int | float | None = None,
    batch_size: int | str = 1,
    num_fewshot: Mapping[str, int] | None = None,
    allow_code_execution: bool = False,
    output_path: str | Path | None = None,
    device: str | None = None,
    model_args: Mapping[str, Any] | None = None,
    gen_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate `model` on `tasks` with `lm_eval.simple_evaluate`; returns plain per-task metrics.

    `model`: a local model directory or hub id (loaded as the harness's "hf" model with `model_args`), or an
    `lm_eval` LM object such as `replay_model(...)`. `tasks`: names from `BENCHMARKS` (Table 5's settings) or any
    other harness task/group name (its own default shots). `num_fewshot` overrides shots per task; `limit` caps the
    documents per task (for tests); `gen_kwargs` overrides generation settings of every generative task. `seed`
    seeds Python, NumPy, torch and the few-shot sampler. Tasks that execute model-written code (HumanEval) are
    refused unless `allow_code_execution=True`.

    Returns `{"results": {task: {"<metric>,<filter>": value, ...}}, "skipped": {task: reason}, "config": {...}}`;
    the same is written to `output_path` (JSON, with provenance) when given.
    """
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    if not tasks:
        raise ValueError("tasks is empty; allowed values: " + ", ".join(BENCHMARKS) + ", or any lm_eval task name")
    unknown_shots = sorted(set(num_fewshot or {}) - set(tasks))
    if unknown_shots:
        raise ValueError(f"num_fewshot names tasks that are not run: {', '.join(unknown_shots)}")
    code_tasks = [name for name in tasks if name in BENCHMARKS and BENCHMARKS[name].unsafe]
    if code_tasks and not allow_code_execution:
        raise ValueError(_refusal(code_tasks))
    shots = {name: (BENCHMARKS[name].num_fewshot if name in BENCHMARKS else None) for name in tasks}
    shots |= dict(num_fewshot or {})
    config = {
        "model": str(model) if isinstance(model, (str, Path)) else type(model).__name__,
        "tasks": list(tasks),
        "num_fewshot": shots,
        "limit": limit,
        "batch_size": batch_size,
        "gen_kwargs": dict(gen_kwargs or {}),
        "data_files": {k: {s: str(p) for s, p in v.items()} for k, v in (data_files or {}).items()},
        "seed": seed,
        "lm_eval": metadata.version("lm_eval"),
    }
    with tempfile.TemporaryDirectory(prefix="seqit-lm-eval-") as include_dir:
        render_tasks(include_dir, data_files)
        standard = any(name not in BENCHMARKS or BENCHMARKS[name].template is None for name in tasks)
        # Indexing the harness's ~15k built-in task YAMLs takes seconds: only when a standard task is asked for.
        manager = TaskManager(include_path=include_dir, include_defaults=standard)
        loaded, skipped = _load_tasks(manager, tasks, shots)
        unsafe = [
            name for name, (_, leaves) in loaded.items() if any(getattr(t, "UNSAFE_CODE", False) for t in leaves)
        ]
        if unsafe and not allow_code_execution:
            raise ValueError(_refusal(unsafe))
        results: dict[str, dict[str, Any]] = {}
        if loaded:
            with _code_execution(allow_code_execution):
                out = simple_evaluate(
                    model=_harness_model(model, batch_size, device, model_args),
                    tasks=[obj for obj, _ in loaded.values()],
                    task_manager=manager,
                    limit=limit,
                    gen_kwargs=dict(gen_kwargs) if gen_kwargs else None,
                    log_samples=False,
                    random_seed=seed,
                    numpy_random_seed=seed,
                    torch_random_seed=seed,
                    fewshot_random_seed=seed,
                    confirm_run_unsafe_code=allow_code_execution,
                )
            assert out is not None  # None only on ranks > 0 of a distributed run
            results = {name: _plain(out["results"][_harness_name(name)]) for name in loaded}
    report = {"results": results, "skipped": skipped, "config": config}
    if output_path is not None:
        write_metrics(output_path, {"results": results, "skipped": skipped}, params=config, seeds=seed)
    where = f"; written to {output_path}" if output_path is not None else ""
    logger.info("lm_eval: %d task(s) scored, %d skipped%s", len(results), len(skipped), where)
    return report


def replay_model(respond: Callable[[dict[str, Any]], str]) -> Any:
    """An lm_eval model that answers every generation request for document `doc` with `respond(doc)`.

    Passed to `run_tasks` instead of a model, it sends given text (gold answers, another system's recorded
    outputs) through a task's own filters, metrics and aggregation. Only generative tasks (GSM8K, HumanEval). Its
    `prompts` list keeps the prompts the harness built, to inspect them.
    """
    return _replay_class()(respond)


def _harness_name(name: str) -> str:
    return BENCHMARKS[name].task if name in BENCHMARKS else name


def _load_tasks(
    manager: Any, tasks: Sequence[str], shots: Mapping[str, int | None]
) -> tuple[dict[str, tuple[Any, list[Any]]], dict[str, str]]:
    """Build each task (or group) on its own, so that one whose data is unavailable is skipped with the reason."""
    loaded, skipped = {}, {}
    for name in tasks:
        harness_name = _harness_name(name)
        try:
            built = manager.load([harness_name])
        except OSError as err:  # datasets: ConnectionError offline, FileNotFoundError when not cached
            skipped[name] = f"data not available ({type(err).__name__}: {err})"
            logger.warning("lm_eval: skipping %s: %s", name, skipped[name])
            continue
        except KeyError as err:
            raise ValueError(f"unknown task {name!r}; Table 5's are {', '.join(BENCHMARKS)}") from err
        groups = built.get("groups") or {}
        if harness_name not in groups and harness_name not in built["tasks"]:
            raise ValueError(f"{name!r} is a tag of the harness, not a task or group; list its tasks instead")
        leaves = list(built["tasks"].values())
        for task in leaves:
            if shots[name] is not None:
                task.set_config(key="num_fewshot", value=shots[name])
        loaded[name] = (groups[harness_name] if harness_name in groups else built["tasks"][harness_name], leaves)
    return loaded, skipped


def _harness_model(model: Any, batch_size: int | str, device: str | None, model_args: Mapping[str, Any] | None):
    """The harness's "hf" model for a directory or hub id (device None: CUDA when available); LM objects as is."""
    if not isinstance(model, (str, Path)):
        return model
    import torch
    from lm_eval.api.registry import get_model

    # HFLM's own default is "cuda" even on machines without it, which fails while loading the weights.
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    args = {"pretrained": str(model), **(model_args or {})}
    return get_model("hf").create_from_arg_obj(args, {"batch_size": batch_size, "device": device})


def _plain(row: Mapping[str, Any]) -> dict[str, Any]:
    """A harness result row as JSON-ready data: the "<metric>,<filter>" values as float (a stderr the harness could
    not compute stays "N/A") and the number of documents scored."""
    metrics = {key: value if isinstance(value, str) else float(value) for key, value in row.items() if "," in key}
    return {"n_samples": int(row.get("sample_len", 0)), **metrics}


def _refusal(names: Sequence[str]) -> str:
    return (
        f"{', '.join(names)} executes model-written code on this machine; pass allow_code_execution=True to run it "
        "(preferably in a sandbox: a container or VM without credentials)"
    )


@contextmanager
def _code_execution(allowed: bool) -> Iterator[None]:
    """HF_ALLOW_CODE_EVAL=1 while the harness runs, when code execution is allowed: `evaluate`'s `code_eval`
    (the metric of the harness's standard code tasks, e.g. `humaneval`, `mbpp`) refuses to run without it."""
    before = os.environ.get("HF_ALLOW_CODE_EVAL")
    if allowed:
        os.environ["HF_ALLOW_CODE_EVAL"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("HF_ALLOW_CODE_EVAL", None)
        else:
            os.environ["HF_ALLOW_CODE_EVAL"] = before


@functools.cache
def _replay_class() -> type:
    """`ReplayLM`, defined on first use so that importing this module does not import lm_eval."""
    from lm_eval.api.model import LM

    class ReplayLM(LM):
        def __init__(self, respond: Callable[[dict[str, Any]], str]) -> None:
            super().__init__()
            self.respond = respond
            self.prompts: list[str] = []  # what the harness asked, in order (few-shot context included)

        def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
            self.prompts += [request.args[0] for request in requests]
            return [self.respond(request.doc) for request in requests]

        def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
            raise NotImplementedError("replay_model answers generation requests only (GSM8K, HumanEval)")

        loglikelihood_rolling = loglikelihood

    return ReplayLM
