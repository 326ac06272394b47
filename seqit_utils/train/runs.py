"""The run registry (`runs:` in params): every model a profile trains, one recipe each, trained by one DVC stage.

A run names its source data (`train_data`), its `transform` (none, the manual SIT transforms of §2.2/§4.1,
Seq-Instruct, or a §5.1 ablation builder), its base, setup and seeds, and the tables its models feed. Stage `train`
(notebook 05) trains `<run>-<seed>` into `outputs/<profile>/models/<run>-<seed>/` for each seed; `seqit runs` lists
the registry. Where each transform's training set comes from:

- none / `experiment.sit_transform`: `sit/it.jsonl` / `sit/sit.jsonl` (task suite or Alpaca), stage `sit_data` (02);
- the §5.1 builders (data_level, …): `ablations/<transform>.jsonl`, stage `ablations` (09);
- seq_instruct over `seq_instruct.source`: `seq_instruct/iteration_<n>.jsonl` by `llm.generator`, stage
  `seq_instruct` (03);
- every other recipe (none over other sources, paraphrase, translate, Seq-Instruct over other sources or by the run's
  own `generator`): `train_sets/<run>.jsonl`, stage `train_sets` (11; `seqit_utils.sit.recipes`), so stage `train`
  never calls an LLM.
All paths are under `outputs/<profile>/`.

A recipe nothing can build (an unknown source, a transform over sources it does not fit) gets no `train@` entry, so
the DAG runs without it; `seqit runs` marks it, and training it directly fails before any model is built, naming the
recipe and the fix (`train:` a file you built).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from seqit_utils import io
from seqit_utils.config import ABLATION_SETS, Config, RunSpec, TrainSetup, find_project_root, load_config
from seqit_utils.train import experiment

COLUMNS = ("run", "train_data", "transform", "train_set", "base", "tables", "seeds", "trained")
STAGES = {"sit": "sit_data", "ablations": "ablations", "seq_instruct": "seq_instruct", "train_sets": "train_sets"}


def run_spec(config: Config, name: str) -> RunSpec:
    """`runs[name]`; a ValueError names the runs the profile has."""
    if name not in config.runs:
        raise ValueError(f"run = {name!r} is not in runs of profile {config.profile!r}; has: {', '.join(config.runs)}")
    return config.runs[name]


def split_key(config: Config, key: str) -> tuple[str, int]:
    """`<run>-<seed>` (a stage `train` entry) → (run, seed), both checked against the registry."""
    name, _, seed = key.rpartition("-")
    if not name or not seed.isdigit() or key not in config.trained_models():
        raise ValueError(f"run = {key!r}: expected <run>-<seed>, one of {', '.join(config.trained_models())}")
    return name, int(seed)


def seeds(config: Config, name: str) -> list[int]:
    return list(run_spec(config, name).seeds or config.experiment.seeds)


def model_dir(config: Config, key: str, root: str | Path = ".") -> Path:
    """Where stage `train` writes model `<run>-<seed>`."""
    return experiment.profile_dir(config, root) / "models" / key


def setup(config: Config, name: str) -> TrainSetup:
    """The run's training setup with its `train_overrides` applied (validated)."""
    run = run_spec(config, name)
    base = config.train.setups[run.setup or config.train.setup]
    return TrainSetup.model_validate(base.model_dump() | run.train_overrides)


def template(config: Config, name: str) -> str:
    return config.model.base_models[run_spec(config, name).base or config.model.base].prompt_template


def pair_data(config: Config) -> list[str]:
    """What stage 02 builds `sit/it.jsonl` and `sit/sit.jsonl` from (`experiment.training_sets`): the task suite
    and/or the real Alpaca records (data set `alpaca`)."""
    return ["task_suite"] * (config.data.task_suite is not None) + ["alpaca"] * ("alpaca" in config.data.datasets)


def seq_instruct_data(config: Config) -> list[str]:
    """The data set stage 03 runs Seq-Instruct over (`seq_instruct.source`: `real/<name>` or `task_suite/<set>`)."""
    if config.seq_instruct is None:
        return []
    kind, _, name = config.seq_instruct.source.partition("/")
    return ["task_suite"] if kind == "task_suite" else [name]


def training_source(config: Config, name: str) -> str:
    """The training file of run `name` relative to `outputs/<profile>/`. A ValueError names the recipe when no stage
    can build its set."""
    from seqit_utils.sit import recipes

    run = run_spec(config, name)
    if run.train is not None:
        return run.train
    if run.transform in ("none", config.experiment.sit_transform) and sorted(run.train_data) == sorted(
        pair_data(config)
    ):
        return "sit/it.jsonl" if run.transform == "none" else "sit/sit.jsonl"
    if run.transform == "it_reference" and config.ablations is not None and config.ablations.sit_set == "manual":
        return "sit/it.jsonl"  # the IT set the manual SIT set was made from
    if run.transform in ABLATION_SETS:
        return f"ablations/{run.transform}.jsonl"
    if run.transform == "seq_instruct" and not run.generator and sorted(run.train_data) == seq_instruct_data(config):
        return f"seq_instruct/iteration_{config.seq_instruct.iterations}.jsonl"
    if (reason := recipes.unbuildable(config, name)) is None:
        return f"train_sets/{name}.jsonl"
    raise ValueError(
        f"runs.{name}: no stage builds transform {run.transform!r} over {run.train_data} ({reason}; stage "
        f"sit_data builds none/{config.experiment.sit_transform} over {pair_data(config)}, stage seq_instruct "
        f"Seq-Instruct over {seq_instruct_data(config)}); build the set and give `train: <file under "
        f"outputs/{config.profile}/>`"
    )


def unbuilt(config: Config, name: str) -> str | None:
    """Why no stage builds run `name`'s training set (None: one does)."""
    try:
        training_source(config, name)
    except ValueError as err:
        return str(err)
    return None


def train_entries(config: Config) -> dict[str, dict[str, Any]]:
    """params.yaml's `train_runs`: `<run>-<seed>` → {run, seed, data, init} for dvc.yaml's `train` stage, `data` being
    the path under `outputs/<profile>/` its training set comes from (`train_sets/<run>.jsonl`: an out of stage
    `train_sets`, so `dvc repro train@<run>-<seed>` builds the set first) and `init` the model it starts from
    (`init_dep`). A run no stage builds a set for is left
    out (so the DAG runs without it; `seqit runs` says why) until it names a `train:` file."""
    entries = {}
    for name in config.runs:
        if unbuilt(config, name) is None:
            source = training_source(config, name)
            entries |= {
                f"{name}-{seed}": {"run": name, "seed": seed, "data": source, "init": init_dep(config, name, seed)}
                for seed in seeds(config, name)
            }
    return entries


def init_dep(config: Config, name: str, seed: int) -> str:
    """What run `name`'s seed `seed` starts from, under `outputs/<profile>/`: `models/<init>-<seed>` (a run of the
    registry, `init`) or `models/base` (stage 02's bases; a hub base is not a DVC dependency)."""
    init = run_spec(config, name).init
    return f"models/{init}-{seed}" if init else "models/base"


def train_set_entries(config: Config) -> dict[str, dict[str, str]]:
    """params.yaml's `train_sets`: `<run>` → {run} for dvc.yaml's `train_sets` stage, one per run whose set it builds
    (`train_sets/<run>.jsonl`); runs that share a recipe each build their own."""
    return {
        name: {"run": name}
        for name in config.runs
        if unbuilt(config, name) is None and training_source(config, name).startswith("train_sets/")
    }


def training_records(config: Config, name: str, root: str | Path = ".") -> tuple[list[dict], dict[str, Any]]:
    """(records, where they came from) for run `name`."""
    from seqit_utils.sit.recipes import as_training

    source = training_source(config, name)
    path = experiment.profile_dir(config, root) / source
    if not path.is_file():
        stage = STAGES.get(source.split("/")[0])
        stage = f"{stage}@{name}" if stage == "train_sets" else stage
        fix = f"run `dvc repro {stage}` first" if stage else "check the path (relative to outputs/<profile>/)"
        raise FileNotFoundError(f"runs.{name} trains on {source}: {path} does not exist; {fix}")
    records = io.read_jsonl(path)
    if not records:
        raise ValueError(f"runs.{name} trains on {source}: {path} holds no records; check the stage that wrote it")
    if source.startswith("seq_instruct/"):
        records = as_training(records)[0]
    return records, {"train_file": source}


def base_model(config: Config, key: str, texts: list[str], root: str | Path = ".") -> str:
    """The run's starting point: the model of run `init` of the same seed, `model.base_models[run.base]`, stage 02's
    tiny base of the seed, or — with `run.tiny` — a tiny base of the changed shape built here (tokenizer trained on
    `texts`, like stage 02's)."""
    name, seed = split_key(config, key)
    run = run_spec(config, name)
    if run.init:
        start = model_dir(config, f"{run.init}-{seed}", root)
        if not (start / "config.json").is_file():
            raise FileNotFoundError(
                f"runs.{name}.init = {run.init!r}: {start} holds no trained model; "
                f"run `dvc repro train@{run.init}-{seed}`"
            )
        return str(start)
    spec = config.model.base_models[run.base or config.model.base]
    if spec.name_or_path != "tiny":
        return spec.name_or_path
    if not run.tiny:
        return str(experiment.profile_dir(config, root) / "models" / "base" / f"seed-{seed}")
    from seqit_utils.train import tiny

    folder = experiment.profile_dir(config, root) / "checkpoints" / f"base-{key}"
    with io.atomic_dir(folder) as tmp:
        tiny.build_tiny(texts, tmp, seed=seed, **(config.model.tiny.model_dump() | run.tiny))
    return str(folder)


def train_run(
    config: Config, key: str, root: str | Path = ".", data: tuple[list[dict], dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Train `<run>-<seed>` (resumable from `checkpoints/<key>-<hash>/`) into `models/<run>-<seed>/`; returns the
    summary. `data`: `training_records`' result when already loaded (it is checked before any model is built)."""
    from seqit_utils.train import trainer

    name, seed = split_key(config, key)
    run = run_spec(config, name)
    records, source = data or training_records(config, name, root)
    texts = []
    if run.tiny:  # the same tokenizer texts as stage 02's tiny bases
        sit_set = io.read_jsonl(experiment.profile_dir(config, root) / "sit" / "sit.jsonl")
        prompts = experiment.prompts_for(sit_set, template(config, name))
        texts = [p + r["output"] for p, r in zip(prompts, sit_set, strict=True)]
    base = base_model(config, key, texts, root)
    run_setup = setup(config, name)
    weights = sorted(Path(base).glob("*.safetensors")) if run.init else []  # a retrained start: a new fingerprint
    start = {"init": {path.name: io.file_sha256(path) for path in weights}} if run.init else {}
    fingerprint = io.stable_hash(
        {"setup": run_setup.model_dump(mode="json"), "run": run.model_dump(mode="json"),
         "model": config.model.model_dump(mode="json"), "train": io.stable_hash(records), **start}
    )  # fmt: skip
    checkpoints = experiment.profile_dir(config, root) / "checkpoints" / f"{key}-{fingerprint[:10]}"
    final = model_dir(config, key, root)
    summary = trainer.train(
        base, records, checkpoints, run_setup, template=template(config, name), seed=seed, final_dir=final
    )
    return {"run": name, "seed": seed, "spec": run.model_dump(mode="json"), "base": base, "source": source, **summary}


# ---------------------------------------------------------------- listing (`seqit runs`)
def _base_label(config: Config, run: RunSpec) -> str:
    if run.init:
        return f"run {run.init} (its model of the same seed)"
    spec = config.model.base_models[run.base or config.model.base]
    label = "tiny (from config)" if spec.name_or_path == "tiny" else spec.name_or_path
    return label + (f" ({', '.join(f'{k}={v}' for k, v in run.tiny.items())})" if run.tiny else "")


def list_runs(config: Config) -> list[dict[str, Any]]:
    """One entry per run of the registry (plus Table 3's Q-Formers, trained by stage `multimodal`), keys `COLUMNS`."""
    runs = []
    for name, run in config.runs.items():
        transform = run.transform + (f" (generator {run.generator})" if run.generator else "")
        reason = unbuilt(config, name)
        source = None if reason is None else "-"
        if source is None:
            source = training_source(config, name)
            stage = STAGES.get(source.split("/")[0]) if run.train is None else None
            source += f" ({stage})" if stage else ""
        runs.append(
            {"run": name, "train_data": list(run.train_data), "transform": transform, "train_set": source,
             "base": _base_label(config, run), "tables": list(run.tables), "seeds": seeds(config, name),
             "trained": "stage train" if reason is None else "not yet: no stage builds its set (give `train:`)"}
        )  # fmt: skip
    if config.multimodal is not None:
        mm = config.multimodal
        data = ["synthetic_images"] if mm.data.source == "synthetic" else ["vqav2", "coco_captions"]
        for name, transform in (("multimodal_it", "none"), ("multimodal_sit", "caption")):
            runs.append(
                {"run": name, "train_data": data, "transform": transform, "train_set": "multimodal/ (multimodal)",
                 "base": mm.model, "tables": ["table_3"], "seeds": [mm.seed], "trained": "stage multimodal"}
            )  # fmt: skip
    return runs


def as_table(runs: list[dict[str, Any]]) -> str:
    """The runs as an aligned plain-text table."""
    rows = [list(COLUMNS)] + [
        [", ".join(map(str, r[c])) if isinstance(r[c], list) else str(r[c]) for c in COLUMNS] for r in runs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def add_command(subparsers: Any) -> None:
    """`seqit runs --profile P [--json]`."""
    help_text = "list the run registry: each model's training data, transform, base model, tables and seeds"
    parser = subparsers.add_parser("runs", help=help_text, description=help_text)
    parser.add_argument("--profile", default="smoke", help="smoke | sample | paper (default: smoke)")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    parser.set_defaults(func=_print)


def _print(args: argparse.Namespace) -> int:
    runs = list_runs(load_config(args.profile, find_project_root()))
    print(json.dumps(runs, indent=1, ensure_ascii=False) if args.json else as_table(runs))
    return 0
