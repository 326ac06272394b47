"""Which models an evaluation stage runs, from the run registry: every run that is a row of a paper table (params
`tables:`) is evaluated — each of its seeds, `<run>-<seed>` — on the benchmarks that table needs, and on nothing
else; `evaluation.models` (explicit paths or endpoints) replaces that when given.

The same registry drives the other evaluations: `suite_runs` (the miniature's task-suite sets: runs listing
`miniature`) and `table_runs` (row label → run of one table, e.g. Table 1's probe, SeqEval's judged runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from seqit_utils import io
from seqit_utils.config import Config
from seqit_utils.tables import registry

IT_TRANSFORMS = ("none", "instance_level_it")  # runs whose own XQuAD prompt is the IT prompt


@dataclass(frozen=True)
class EvalModel:
    """A model under evaluation: `path` (directory, adapter or hub id) or `endpoint` (an `llm.endpoints` key)."""

    name: str
    group: str  # the run (its seeds' metrics are averaged under this key)
    prompt: str  # the XQuAD prompt ("it" | "sit") its group reports as `<lang>`
    path: str | None = None
    endpoint: str | None = None
    template: str | None = None  # prompt template of a local model (None: the profile's base model's)
    benchmarks: tuple[str, ...] | None = None  # what its tables need (None: every benchmark of the stage)

    def runs(self, benchmark: str) -> bool:
        return self.benchmarks is None or benchmark in self.benchmarks


def eval_models(config: Config, root: str | Path = ".") -> dict[str, EvalModel]:
    """`evaluation.models` (paths relative to the project root), else every trained model of every run that is a
    row of a table in params `tables:`, with the benchmarks of those tables."""
    spec = config.evaluation.models if config.evaluation else None
    if spec:
        out = {}
        for name, model in spec.items():
            path = model.path
            if path is not None and (Path(root) / path).exists():
                path = str(Path(root) / path)
            out[name] = EvalModel(name, model.group, model.prompt, path=path, endpoint=model.endpoint)
        return out
    from seqit_utils.train import runs

    trained = set(config.trained_models())
    folder = Path(root) / config.output_dir / "models"
    out = {}
    for run, benchmarks in registry.run_benchmarks(config).items():
        if runs.unbuilt(config, run) is not None:  # no stage builds its set: not trained (`seqit runs` says why)
            continue
        spec_run = config.runs[run]
        prompt = "it" if spec_run.transform in IT_TRANSFORMS else "sit"
        template = config.model.base_models[spec_run.base or config.model.base].prompt_template
        for seed in spec_run.seeds or config.experiment.seeds:
            key = f"{run}-{seed}"
            if key in trained:
                out[key] = EvalModel(key, run, prompt, path=str(folder / key), template=template,
                                     benchmarks=tuple(benchmarks))  # fmt: skip
    return out


def for_benchmark(models: Mapping[str, EvalModel], benchmark: str) -> dict[str, EvalModel]:
    """The models whose tables need `benchmark`."""
    return {name: model for name, model in models.items() if model.runs(benchmark)}


def table_runs(config: Config, table: str, default: Mapping[str, str]) -> dict[str, str]:
    """Row label → run of `table` from params `tables:`, else `default` (its runs that exist in the registry)."""
    rows = registry.rows(config, table)
    return rows or {label: run for label, run in default.items() if run in config.runs}


def suite_runs(config: Config) -> list[str]:
    """The runs evaluated on the task suite's sets (notebook 06's miniature): those listing `miniature`."""
    return [name for name, run in config.runs.items() if "miniature" in run.tables]


def template(config: Config, run: str) -> str:
    return config.model.base_models[config.runs[run].base or config.model.base].prompt_template


def model_fingerprint(path: str | Path | None) -> str:
    """A hash of a model directory's file names, sizes and modification times (a hub id: the id itself)."""
    folder = Path(str(path))
    if not folder.is_dir():
        return io.stable_hash({"id": str(path)})
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return io.stable_hash([[str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns] for p in files])
