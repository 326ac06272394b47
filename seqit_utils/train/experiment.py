"""The IT-vs-SIT experiment (§4; in miniature on the task suite): training sets, evaluation sets, scoring, tables.

Used by notebooks 02 (sequential data), 05 (fine-tune) and 06 (manual-SIT evaluation). Paths follow
`outputs/<profile>/`: `data/` (stage 00), `sit/` (stage 02: training sets, tiny bases), `models/<variant>-<seed>/`
(stage 05), `generations/`, `metrics/`, `tables/` (stage 06).
"""

from __future__ import annotations

from pathlib import Path
from statistics import mean
from typing import Any

from seqit_utils import io
from seqit_utils.config import Config
from seqit_utils.data import tasks
from seqit_utils.evaluate import metrics
from seqit_utils.prompts import format_prompt
from seqit_utils.sit import manual as sit
from seqit_utils.sit import manual_translate

# Evaluation sets of the task suite under the names the results use (DESIGN: the miniature experiment).
SUITE_EVAL_SETS = {
    "single": "eval_single",
    "two_step_seen": "eval_seq2_seen",  # "First <repeat> the input, then <B>": intermediate seen in SIT training
    "two_step_unseen": "eval_seq2_unseen",  # intermediate task never used as one in training
    "chain3": "eval_seq3",
    "chain4": "eval_seq4",
    "chain5": "eval_seq5",  # with single (1 task) … chain4: following against the number of tasks 1-5
}


# The translate-then-answer sets (`data.task_suite.translate`): French inputs of the tasks seen / unseen after a
# translation step in SIT training (the miniature's analogue of the paper's seen / unseen languages).
TRANSLATE_EVAL_SETS = {"fr_seen": "translate_eval_seen", "fr_unseen": "translate_eval_unseen"}


def profile_dir(config: Config, root: str | Path = ".") -> Path:
    """`<root>/outputs/<profile>`."""
    return Path(root) / config.output_dir


def base_model(config: Config, seed: int, root: str | Path = ".") -> str:
    """What a fine-tuning run starts from: the tiny base built by stage 02 for this seed, or the hub/local model."""
    spec = config.model.base_models[config.model.base]
    if spec.name_or_path == "tiny":
        return str(profile_dir(config, root) / "models" / "base" / f"seed-{seed}")
    return spec.name_or_path


def build_tiny_bases(config: Config, records: list[dict[str, Any]], root: str | Path = ".") -> list[Path]:
    """Stage 02: one tiny base per seed (tokenizer trained on the texts of `records`: every training set of stage
    02), so every run of the same seed starts from the same weights. Nothing to build when the base is not `tiny`."""
    from seqit_utils.train import tiny

    spec = config.model.base_models[config.model.base]
    if spec.name_or_path != "tiny":
        return []
    texts = [p + r["output"] for p, r in zip(prompts_for(records, spec.prompt_template), records, strict=True)]
    out = []
    with io.atomic_dir(profile_dir(config, root) / "models" / "base") as folder:
        for seed in config.experiment.seeds:
            tiny.build_tiny(texts, folder / f"seed-{seed}", seed=seed, **config.model.tiny.model_dump())
            out.append(profile_dir(config, root) / "models" / "base" / f"seed-{seed}")
    return out


def training_sets(config: Config, root: str | Path = ".") -> dict[str, list[dict[str, Any]]]:
    """The training sets stage 02 writes to `sit/<name>.jsonl`, built from the data stage's outputs.

    Task suite: IT = single-step records; SIT = the same plus the "First <A> the input, then <B>" records. With
    `data.task_suite.n_train_chain3`, `sit_chain3` = IT plus as many chains as SIT, the last `n_train_chain3` of them
    3-step ones (only the chain length differs from SIT). With `data.task_suite.translate` (§4.1.1 in miniature), IT
    also has the French-input records and the to-English task (`translate_train_it`), and `translate_sit` is that
    IT set with a third of the seen tasks' English inputs translated (`translate_train_sit`): the same size as IT.
    Real data (`alpaca` in the profile's datasets): IT = the records; SIT = the records merged with their
    `experiment.sit_transform` versions (§2.2).
    """
    data = profile_dir(config, root) / "data" / "task_suite"
    it: list[dict[str, Any]] = []
    added: list[dict[str, Any]] = []
    extra: dict[str, list[dict[str, Any]]] = {}
    suite = config.data.task_suite
    if suite is not None:
        it += io.read_jsonl(data / "train_it.jsonl")
        added += io.read_jsonl(data / "train_sit_chains.jsonl")
        if suite.n_train_chain3:
            chains3 = io.read_jsonl(data / "train_sit_chains3.jsonl")
            extra["sit_chain3"] = added[: len(added) - len(chains3)] + chains3
        if suite.translate is not None:
            extra["translate_sit"] = it + io.read_jsonl(data / "translate_train_sit.jsonl")
            it = it + io.read_jsonl(data / "translate_train_it.jsonl")
    if "alpaca" in config.data.datasets:
        alpaca = io.read_jsonl(profile_dir(config, root) / "data" / "real" / "alpaca.jsonl")
        it += alpaca
        merged = sit.build_sit_dataset(alpaca, config.experiment.sit_transform, seed=config.seed)
        added += merged[len(alpaca) :]  # build_sit_dataset returns the originals first, then the SIT records
    if not it:
        raise ValueError(
            f"profile {config.profile!r} has no training data; set data.task_suite or data.datasets.alpaca"
        )
    sets = {"it": it, "sit": it + added}
    if "sit_chain3" in extra:
        sets["sit_chain3"] = it + extra["sit_chain3"]
    if "translate_sit" in extra:
        sets["translate_sit"] = extra["translate_sit"]
    return sets


def eval_sets(config: Config, root: str | Path = ".") -> dict[str, list[dict[str, Any]]]:
    """Evaluation sets with per-step gold outputs: the task suite's, CommonsenseQA direct and repeat-then-answer,
    and XQuAD translate-then-answer for every non-English XQuAD dataset of the profile."""
    data = profile_dir(config, root) / "data"
    sets: dict[str, list[dict[str, Any]]] = {}
    if config.data.task_suite is not None:
        for name, split in SUITE_EVAL_SETS.items():
            sets[name] = io.read_jsonl(data / "task_suite" / f"{split}.jsonl")
        if config.data.task_suite.translate is not None:  # French inputs, translate-then-answer (§4.1.1)
            for name, split in TRANSLATE_EVAL_SETS.items():
                sets[name] = io.read_jsonl(data / "task_suite" / f"{split}.jsonl")
    if "csqa_dev" in config.data.datasets:
        csqa = io.read_jsonl(data / "real" / "csqa_dev.jsonl")
        sets["csqa_direct"] = csqa
        sets["csqa_repeat"] = sit.repeat_sit(csqa)  # Table 1/7: "First repeat the input, then ..."
    if "xquad_en" in config.data.datasets:
        english = io.read_jsonl(data / "real" / "xquad_en.jsonl")
        for name, spec in config.data.datasets.items():
            lang = spec.options.get("lang")
            if spec.loader != "xquad" or lang in (None, "en"):
                continue
            # §4.1.1: the question in `lang`, "First, translate the input into English, then ..."; XQuAD is
            # parallel, so the English item (same id) is the gold translation step.
            parallel = {lang: {r["id"]: r["input"] for r in io.read_jsonl(data / "real" / f"{name}.jsonl")}}
            shared = [r for r in english if r["id"] in parallel[lang]]
            sets[f"{name}_translate"] = manual_translate.translate_sit(
                shared, parallel, seed=config.seed, langs=[lang], fraction=1.0
            )
    return sets


def prompts_for(records: list[dict[str, Any]], template: str, tokenizer: Any = None) -> list[str]:
    """Formatted prompts of `records` in the model's template."""
    return [format_prompt(r["instruction"], r.get("input", ""), template, tokenizer) for r in records]


def gold_steps(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The record's per-step gold outputs; a record without `steps` is one step (its output)."""
    return record.get("steps") or [{"task": "answer", "output": record["output"]}]


def score(outputs: list[str], records: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """Following rate (all steps, per step), intermediate exact match and final-answer accuracy of `outputs`."""
    with_steps = [{**r, "steps": gold_steps(r)} for r in records]
    return metrics.following_report(outputs, with_steps, threshold=threshold)


def shortcut_outputs(records: list[dict[str, Any]]) -> list[str]:
    """The "shortcut" answer: only the last step, applied to the raw input (DESIGN: a baseline for chain accuracy).

    A model that skips the intermediate steps can only be right where this answer equals the chained one.
    """
    return [tasks.apply_task(r["steps"][-1]["task"], r["input"]) if _applicable(r) else "" for r in records]


def _applicable(record: dict[str, Any]) -> bool:
    try:
        tasks.apply_task(record["steps"][-1]["task"], record["input"])
    except (ValueError, KeyError):
        return False
    return True


def aggregate(per_seed: dict[int, dict[str, dict[str, dict[str, Any]]]]) -> dict[str, Any]:
    """Mean over seeds of follow_all / accuracy / intermediate_exact, keyed `<test_set>.<model>` (+ per-seed)."""
    seeds = sorted(per_seed)
    out: dict[str, Any] = {"seeds": seeds}
    for model in sorted({m for by_model in per_seed.values() for m in by_model}):
        ran = [s for s in seeds if model in per_seed[s]]  # a run may train fewer seeds than the profile has
        for test_set in per_seed[ran[0]][model]:
            reports = [per_seed[s][model][test_set] for s in ran]
            out[f"{test_set}.{model}"] = {
                "follow_all": mean(r["follow_all"] for r in reports),
                "accuracy": mean(r["accuracy"] for r in reports),
                "intermediate_exact": mean(r.get("intermediate_exact") or 0.0 for r in reports),
                "n": reports[0]["n"],
                "per_seed": {str(s): _pick(per_seed[s][model][test_set]) for s in ran},
            }
    return out


def _pick(report: dict[str, Any]) -> dict[str, Any]:
    return {key: report[key] for key in ("follow_all", "accuracy")}


def results_table(summary: dict[str, Any], models: list[str], test_sets: list[str]) -> str:
    """Markdown table: one row per test set, follow-all / accuracy per model (means over seeds; "–" if absent)."""
    head = "| test set | n | " + " | ".join(f"{m} follow | {m} acc" for m in models) + " |"
    rows = [head, "|---|---:|" + "---:|---:|" * len(models)]
    for test_set in test_sets:
        cells = [summary.get(f"{test_set}.{m}") for m in models]
        n = next((c["n"] for c in cells if c), "–")  # no run evaluated on this set: dashes
        values = " | ".join(f"{c['follow_all']:.2f} | {c['accuracy']:.2f}" if c else "– | –" for c in cells)
        rows.append(f"| {test_set} | {n} | {values} |")
    seeds = ", ".join(map(str, summary["seeds"]))
    return "\n".join(rows) + f"\n\nMeans over seeds [{seeds}]; greedy decoding; follow = every step followed.\n"


def stats_table(stats: dict[str, dict[str, Any]]) -> str:
    """Markdown table of `sit.dataset_stats` per training set (scalar fields only)."""
    keys = [k for k, v in next(iter(stats.values())).items() if isinstance(v, int | float)]
    rows = ["| set | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for name, values in stats.items():
        rows.append(f"| {name} | " + " | ".join(_fmt(values.get(k)) for k in keys) + " |")
    return "\n".join(rows) + "\n"


def _fmt(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def generate_sets(
    config: Config, model_dir: str | Path, sets: dict[str, list[dict[str, Any]]], template: str | None = None
) -> dict[str, list[str]]:
    """Greedy outputs of the model in `model_dir` for every set (one model load on CUDA when there is one;
    `experiment.generation` settings and backend; the profile's base template, and its stop strings, unless
    `template` is given)."""
    from seqit_utils.evaluate.generate import local_generator

    gen = config.experiment.generation
    template = template or config.model.base_models[config.model.base].prompt_template
    options = dict(backend=gen.backend, batch_size=gen.batch_size, max_new_tokens=gen.max_new_tokens)
    generator = local_generator(model_dir, template, **options)
    return {
        name: generator.generate(prompts_for(records, template, generator.tokenizer)) for name, records in sets.items()
    }


def evaluate_models(
    config: Config, sets: dict[str, list[dict[str, Any]]], runs: list[str], root: str | Path = "."
) -> tuple[dict[int, dict[str, dict[str, Any]]], list[dict[str, Any]]]:
    """Generate with every model of `runs` (registry names; each of its seeds) on every set, one model load each;
    score them.

    Returns per-seed reports `{seed: {run: {set: report}}}` (with the task-suite shortcut baseline as model
    "shortcut") and one generation record per (run, seed, set, item).
    """
    threshold = config.experiment.follow_threshold
    per_seed: dict[int, dict[str, dict[str, Any]]] = {}
    generations: list[dict[str, Any]] = []
    for seed in config.experiment.seeds:
        per_seed[seed] = {}
        for run in runs:
            spec = config.runs[run]
            if seed not in (spec.seeds or config.experiment.seeds):
                continue
            template = config.model.base_models[spec.base or config.model.base].prompt_template
            model_dir = profile_dir(config, root) / "models" / f"{run}-{seed}"
            per_seed[seed][run] = {}
            for name, outputs in generate_sets(config, model_dir, sets, template).items():
                records = sets[name]
                per_seed[seed][run][name] = score(outputs, records, threshold)
                generations += [
                    {"model": run, "seed": seed, "set": name, "id": r["id"], "output": o, "gold": r["output"]}
                    for r, o in zip(records, outputs, strict=True)
                ]
        suite_sets = {name: records for name, records in sets.items() if name in SUITE_EVAL_SETS}
        per_seed[seed]["shortcut"] = {
            name: score(shortcut_outputs(records), records, threshold) for name, records in suite_sets.items()
        }
    return per_seed, generations
