"""The models of the ablation tables (§5.1 Table 6/12) and the model swaps of §5.2: `ablations.runs` in params.

Each run is one DVC matrix entry of stage `ablation_finetune` (notebook 11): a training set (an ablation set of
notebook 09, the IT/SIT set of notebook 02, a file under `outputs/<profile>/`, or Seq-Instruct data from another
generator), a base model (the profile's, another `model.base_models` key, or a tiny base of another shape), and the
profile's training setup with `ablations.train_overrides`. Stage `ablation_eval` (notebook 12) evaluates every run on
the profile's evaluation sets (`experiment.eval_sets`) and writes Table 6, Table 12 and the swaps table.

Runs train from `experiment.seeds[0]`'s base with that seed. Files: `outputs/<profile>/ablation_runs/<run>/`
(`model/` and the `train.jsonl` it saw), checkpoints under `outputs/<profile>/checkpoints/ablation-<run>-<key>/`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqit_utils import io
from seqit_utils.config import AblationRun, Config, TrainSetup
from seqit_utils.train import experiment


def run_spec(config: Config, name: str) -> AblationRun:
    """`ablations.runs[name]`; a ValueError names the runs the profile has."""
    runs = config.ablations.runs if config.ablations else {}
    if name not in runs:
        raise ValueError(
            f"run = {name!r} is not in ablations.runs of profile {config.profile!r}; has: {', '.join(runs)}"
        )
    return runs[name]


def run_dir(config: Config, name: str, root: str | Path = ".") -> Path:
    return experiment.profile_dir(config, root) / "ablation_runs" / name


def setup(config: Config) -> TrainSetup:
    """The profile's training setup with `ablations.train_overrides` applied (validated)."""
    base = config.train.setups[config.train.setup]
    return TrainSetup.model_validate(
        base.model_dump() | (config.ablations.train_overrides if config.ablations else {})
    )


def template(config: Config, run: AblationRun) -> str:
    return config.model.base_models[run.base or config.model.base].prompt_template


def seed(config: Config) -> int:
    return config.experiment.seeds[0]


def training_file(config: Config, run: AblationRun, root: str | Path = ".") -> Path:
    """Where a `train` run's records are (a generator run writes its own, see `generator_records`)."""
    out = experiment.profile_dir(config, root)
    if run.train in ("it", "sit"):
        return out / "sit" / f"{run.train}.jsonl"
    if "/" not in run.train and not run.train.endswith(".jsonl"):
        return out / "ablations" / f"{run.train}.jsonl"
    return out / run.train


def generator_records(config: Config, run: AblationRun, root: str | Path = ".") -> tuple[list[dict], dict[str, Any]]:
    """§5.2 generator swap: Seq-Instruct over `seq_instruct.source` (limit, iterations, options of the profile) with
    `run.generator`; the last iteration's records (instruction, input, output) as a training set. Requests go
    through the profile's LLM cache, so a re-run sends nothing it sent before."""
    from seqit_utils.llm import endpoints
    from seqit_utils.llm import stages as llm_stages
    from seqit_utils.sit import seq_instruct

    spec = config.seq_instruct
    records = llm_stages.stage_records(config, spec.source, spec.limit, root)
    with endpoints.open_endpoint(config, run.generator, root, progress=False) as client:
        result = seq_instruct.run_seq_instruct(
            records,
            client.complete,
            iterations=spec.iterations,
            allowed_options=spec.allowed_options,
            seed=config.seed,
        )
    last = result.records_by_iteration[-1]
    train = [{"id": r["id"], "instruction": r["instruction"], "input": r.get("input", ""), "output": r["output"]}
             for r in last]  # fmt: skip
    report = {"generator": run.generator, "source": spec.source, "summary": result.summary,
              "client": llm_stages.stats_dict(client.totals)}  # fmt: skip
    return train, report


def training_records(config: Config, name: str, root: str | Path = ".") -> tuple[list[dict], dict[str, Any]]:
    """(records, where they came from) for run `name`."""
    run = run_spec(config, name)
    if run.generator is not None:
        return generator_records(config, run, root)
    path = training_file(config, run, root)
    if not path.is_file():
        stage = {"it": "sit_data", "sit": "sit_data"}.get(run.train, "ablations" if "/" not in run.train else None)
        fix = f"run `dvc repro {stage}` first" if stage else "check the path (relative to outputs/<profile>/)"
        raise FileNotFoundError(f"ablations.runs.{name}.train = {run.train!r}: {path} does not exist; {fix}")
    return io.read_jsonl(path), {"train_file": str(path.relative_to(experiment.profile_dir(config, root)))}


def base_model(config: Config, name: str, texts: list[str], root: str | Path = ".") -> str:
    """The run's starting point: `model.base_models[run.base]`, the profile's tiny base of `seed(config)`, or — with
    `run.tiny` — a tiny base of the changed shape built here (tokenizer trained on `texts`, like stage 02's)."""
    run = run_spec(config, name)
    spec = config.model.base_models[run.base or config.model.base]
    if spec.name_or_path != "tiny":
        return spec.name_or_path
    if not run.tiny:
        return str(experiment.profile_dir(config, root) / "models" / "base" / f"seed-{seed(config)}")
    from seqit_utils.train import tiny

    shape = config.model.tiny.model_dump() | run.tiny
    with io.atomic_dir(run_dir(config, name, root) / "base") as folder:
        tiny.build_tiny(texts, folder, seed=seed(config), **shape)
    return str(run_dir(config, name, root) / "base")


def train_run(config: Config, name: str, root: str | Path = ".") -> dict[str, Any]:
    """Train run `name` (resumable); writes `ablation_runs/<name>/{model,train.jsonl}`; returns the summary."""
    from seqit_utils.train import trainer as train

    run = run_spec(config, name)
    records, source = training_records(config, name, root)
    folder = run_dir(config, name, root)
    train_file = folder / "train.jsonl"
    io.write_jsonl(train_file, records)
    texts = []
    if run.tiny:  # the same tokenizer texts as stage 02's tiny bases
        sit_set = io.read_jsonl(experiment.profile_dir(config, root) / "sit" / "sit.jsonl")
        prompts = experiment.prompts_for(sit_set, template(config, run))
        texts = [p + r["output"] for p, r in zip(prompts, sit_set, strict=True)]
    base = base_model(config, name, texts, root)
    run_setup = setup(config)
    key = io.stable_hash(
        {"setup": run_setup.model_dump(mode="json"), "run": run.model_dump(mode="json"),
         "model": config.model.model_dump(mode="json"), "train": io.file_sha256(train_file)}
    )  # fmt: skip
    checkpoints = experiment.profile_dir(config, root) / "checkpoints" / f"ablation-{name}-{key[:10]}"
    summary = train.train(
        base, records, checkpoints, run_setup, template=template(config, run), seed=seed(config),
        final_dir=folder / "model",
    )  # fmt: skip
    return {"run": name, "spec": run.model_dump(mode="json"), "base": base, "source": source, **summary}


# ---------------------------------------------------------------- evaluation (notebook 12)
def evaluate_runs(
    config: Config, sets: dict[str, list[dict[str, Any]]], root: str | Path = "."
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Greedy outputs of every run's model on every set, scored as in the IT-vs-SIT experiment (follow rate,
    final-answer accuracy). Returns `{run: {set: report}}` and one generation record per (run, set, item)."""
    reports: dict[str, dict[str, Any]] = {}
    generations: list[dict[str, Any]] = []
    for name, run in (config.ablations.runs if config.ablations else {}).items():
        model_dir = run_dir(config, name, root) / "model"
        if not model_dir.is_dir():
            raise FileNotFoundError(f"{model_dir}: run {name!r} is not trained; run `dvc repro ablation_finetune`")
        outputs = experiment.generate_sets(config, model_dir, sets, template=template(config, run))
        reports[name] = {}
        for set_name, records in sets.items():
            reports[name][set_name] = experiment.score(outputs[set_name], records, config.experiment.follow_threshold)
            generations += [
                {"run": name, "set": set_name, "id": r["id"], "output": o, "gold": r["output"]}
                for r, o in zip(records, outputs[set_name], strict=True)
            ]
    return reports, generations


TABLE_TITLES = {
    "table_6": "Table 6 (§5.1): data-level and instance-level ablations",
    "table_12": "Table 12 (§5.1): SIT-split and SIT-multi",
    "model_swaps": "§5.2: generator and base-model swaps",
}


def table_markdown(config: Config, table: str, reports: dict[str, dict[str, Any]], train: dict[str, Any]) -> str:
    """One ablation table: a row per run of `table` (training set, base, examples/steps seen), follow rate and
    accuracy per evaluation set."""
    runs = {name: run for name, run in config.ablations.runs.items() if table in run.tables}
    if not runs:
        return f"## {TABLE_TITLES[table]}\n\nNo run of profile {config.profile!r} lists {table!r} in its `tables`.\n"
    sets = list(next(iter(reports.values())))
    head = "| run | trained on | base | examples | steps | " + " | ".join(f"{s} follow | {s} acc" for s in sets) + " |"
    lines = [f"## {TABLE_TITLES[table]}", "", head, "|---|---|---|---:|---:|" + "---:|---:|" * len(sets)]
    for name, run in runs.items():
        seen = train.get(name, {})
        source = run.train or f"Seq-Instruct by {run.generator}"
        base = (run.base or config.model.base) + (
            f" ({', '.join(f'{k}={v}' for k, v in run.tiny.items())})" if run.tiny else ""
        )
        cells = " | ".join(f"{reports[name][s]['follow_all']:.2f} | {reports[name][s]['accuracy']:.2f}" for s in sets)
        examples, steps = seen.get("train_examples", "–"), seen.get("global_step", "–")
        lines.append(f"| {name} | {source} | {base} | {examples} | {steps} | {cells} |")
    overrides = config.ablations.train_overrides
    note = (
        f"\nProfile {config.profile!r}; seed {seed(config)}; setup {config.train.setup!r}"
        + (f" with {overrides}" if overrides else "")
        + "; greedy decoding; follow = every step followed (ROUGE-L ≥ "
        + f"{config.experiment.follow_threshold}), acc = final answer.\n"
    )
    return "\n".join(lines) + "\n" + note
