"""Evaluation of the profile's models on the benchmarks of Tables 2, 5 and 7-11 (notebooks 06 and 08).

Which models run comes from the run registry (`seqit_utils.evaluate.models.eval_models`: every run that is a row
of a table in params `tables:`, each seed, on the benchmarks of its tables only) or from `evaluation.models`. Each
benchmark becomes `metrics/<benchmark>.json` in the layout `seqit_utils.tables.layout` reads: `{model or run:
{setting: {metric: value}}}`, a run holding the mean over its seeds' models;
a benchmark that cannot run (not configured, data not found, code execution not allowed) is written as `{"skipped":
reason}` and shown as missing in the tables, never as 0.

- Prompt benchmarks (our prompts from `seqit_utils.evaluate.eval_sets`, our scorers from
`seqit_utils.evaluate.scoring`): `xquad`
  (settings `it-prompt/<lang>`, `sit-prompt/<lang>`; a group's own prompt also as `<lang>` and the mean over its
  languages as `all`), `mgsm` (`en-cot/<lang>`, `trans-cot/<lang>`, `.../all`), `csqa` (`single`, `repeat`,
  `paraphrase`) and `alpaca_eval` (the model's answers to AlpacaEval instructions, judged against a recorded
  reference model's outputs).
- Harness benchmarks (`seqit_utils.evaluate.harness`, lm-evaluation-harness's own prompts and metrics): `mmlu`,
  `arc_challenge`, `gsm8k`, `humaneval`.

Generation (batched, cached, resumable) is `seqit_utils.evaluate.cached_generation`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from statistics import mean
from typing import Any

from seqit_utils import io
from seqit_utils.config import Config, MetricsConfig, data_dir
from seqit_utils.data import loaders
from seqit_utils.data.sources import DataNotFoundError
from seqit_utils.evaluate import eval_sets, scoring
from seqit_utils.evaluate.models import EvalModel
from seqit_utils.train import experiment

Record = dict[str, Any]
Sets = dict[str, list[Record]]  # setting -> records
PROMPT_BENCHMARKS = ("xquad", "mgsm", "csqa", "alpaca_eval")
HARNESS_BENCHMARKS = ("mmlu", "arc_challenge", "gsm8k", "humaneval")
# The harness metric reported as `accuracy` / `pass@k` (ARC: length-normalised, as the Open LLM Leaderboard has it).
HARNESS_METRICS = {
    "mmlu": {"accuracy": "acc,none"},
    "arc_challenge": {"accuracy": "acc_norm,none", "accuracy_unnormalised": "acc,none"},
    "gsm8k": {"accuracy": "exact_match,flexible-extract", "accuracy_strict": "exact_match,strict-match"},
    "humaneval": {"pass@1": "pass@1,create_test", "pass@10": "pass@10,create_test"},
}


# ---------------------------------------------------------------- prompt sets
def prompt_sets(config: Config, benchmarks: Sequence[str]) -> tuple[dict[str, Sets], dict[str, str]]:
    """`{benchmark: {setting: records}}` for the prompt benchmarks among `benchmarks`, and what did not run:
    `{benchmark: reason}` for a whole benchmark (not configured in params, or its data not found: the loader's
    message), `{"<benchmark>/<lang>": reason}` for a language whose files are missing while others run."""
    spec, folder = config.evaluation, data_dir(config)
    limit = spec.limit if spec else None
    sets: dict[str, Sets] = {}
    skipped: dict[str, str] = {}
    for name in benchmarks:
        if name not in PROMPT_BENCHMARKS:
            raise ValueError(f"benchmark = {name!r} is unknown; allowed values: {', '.join(PROMPT_BENCHMARKS)}")
        options = getattr(spec, name) if spec else None
        if options is None:
            skipped[name] = f"not configured: params/{config.profile}.yaml has no evaluation.{name}"
            continue
        parts = [(lang, lang) for lang in options.langs] if name in ("xquad", "mgsm") else [(None, "all")]
        for lang, label in parts:
            try:
                sets.setdefault(name, {}).update(_build(name, options, folder, limit, lang))
            except DataNotFoundError as err:
                skipped[f"{name}/{label}"] = f"data not found: {err}"
        if not sets.get(name):
            sets.pop(name, None)
            reasons = [skipped.pop(f"{name}/{label}") for _, label in parts]
            skipped[name] = reasons[0] if len(reasons) == 1 else f"{reasons[0]} (and every other language)"
    return sets, skipped


def _build(name: str, options: Any, folder: str | None, limit: int | None, lang: str | None) -> Sets:
    if name == "xquad":
        built = eval_sets.xquad_sets(
            lang, wording=options.wording, accept_english=options.accept_english, data_dir=folder, limit=limit
        )
        return {f"{prompt}-prompt/{lang}": records for prompt, records in built.items()}
    if name == "mgsm":
        built = eval_sets.mgsm_sets(lang, n_shot=options.n_shot, data_dir=folder, limit=limit)
        return {f"{variant.replace('_', '-')}/{lang}": records for variant, records in built.items()}
    if name == "csqa":
        return eval_sets.csqa_sets(wording=options.wording, data_dir=folder, limit=limit)
    # alpaca_eval: the reference model's recorded answers are the gold outputs
    return {"all": loaders.load_alpaca_eval(generator=options.reference, data_dir=folder, limit=limit)}


# ---------------------------------------------------------------- scoring
def score(
    config: Config, benchmark: str, sets: Sets, outputs: Mapping[str, list[str]]
) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Per-setting summaries `{setting: {metric: value, n}}` and per-item scores of one model's outputs.

    Metric keys (docs/metrics.md; fractions in [0, 1]): `paper_accuracy`, `paper_follow_rate` (the authors'
    definitions), `strict_accuracy`, `strict_follow_rate`, and for XQuAD `strict_exact_match`, `strict_f1`,
    `strict_exact_match_native`, `strict_f1_native`; plus `n` and `no_answer` (strict extraction found nothing).
    Thresholds from `evaluation.metrics`.
    """
    summaries, items = {}, {}
    options = config.evaluation.metrics if config.evaluation else MetricsConfig()
    english = english_texts(benchmark, sets)
    for setting, records in sets.items():
        got = outputs[setting]
        sequential = setting.startswith(("sit-", "trans-cot/")) and not setting.endswith("/en")
        references = [r["steps"][0]["output"] for r in records] if sequential else None
        if benchmark == "xquad":
            scored, summary = scoring.score_xquad(
                got,
                records,
                references=references,
                english_inputs=_english_for(records, english),
                paper_threshold=options.xquad_follow_threshold,
                strict_threshold=options.strict_follow_threshold,
            )
        elif benchmark == "mgsm":
            scored, summary = scoring.score_gsm(
                got,
                records,
                english_questions=_english_for(records, english),
                references=references,
                paper_threshold=options.mgsm_follow_threshold,
                strict_threshold=options.strict_follow_threshold,
            )
        elif benchmark == "csqa":
            scored, summary = scoring.score_csqa(got, records, threshold=options.strict_follow_threshold)
        else:
            raise ValueError(f"benchmark = {benchmark!r} has no scorer here; allowed values: xquad, mgsm, csqa")
        summaries[setting] = summary
        items[setting] = scored
    return summaries, items


def english_texts(benchmark: str, sets: Sets) -> dict[tuple[str, str], str]:
    """`{(lang, source_id): English text}` the paper's following compares outputs with: the English XQuAD input
    (Table 9) or MGSM question (Tables 10/11). Read from the translate step of the SIT / trans-CoT records (whose
    gold is that text) and from the English records themselves; IT / en-CoT records of the same item share it."""
    out: dict[tuple[str, str], str] = {}
    if benchmark not in ("xquad", "mgsm"):
        return out
    for records in sets.values():
        for record in records:
            key = (record.get("lang", "en"), record.get("source_id", record["id"]))
            steps = record.get("steps") or []
            if steps and steps[0].get("task") == "translate":
                out[key] = steps[0]["output"]
            elif key[0] == "en":
                out.setdefault(key, record["input"] if benchmark == "xquad" else record["question"])
    return out


def _english_for(records: Sequence[Record], english: Mapping[tuple[str, str], str]) -> list[str] | None:
    """The English text of every record (None unless all have one: the paper's following is then not computed)."""
    texts = [english.get((r.get("lang", "en"), r.get("source_id", r["id"]))) for r in records]
    return None if any(text is None for text in texts) else texts


def score_all(
    config: Config, models: Mapping[str, EvalModel], sets: Mapping[str, Sets], outputs: Mapping[str, Any]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """`score` for every model and benchmark: the metrics file content per benchmark (`benchmark_metrics`) and the
    per-item scores `{model: {benchmark: {setting: items}}}`."""
    per_benchmark, items = {}, {}
    for benchmark, by_setting in sets.items():
        per_model = {}
        for name in (n for n, m in models.items() if m.runs(benchmark)):
            per_model[name], scored = score(config, benchmark, by_setting, outputs[name][benchmark])
            items.setdefault(name, {})[benchmark] = scored
        per_benchmark[benchmark] = benchmark_metrics(benchmark, models, per_model)
    return per_benchmark, items


def benchmark_metrics(
    benchmark: str, models: Mapping[str, EvalModel], per_model: Mapping[str, Mapping[str, dict[str, Any]]]
) -> dict[str, Any]:
    """The metrics file of one benchmark: every model's settings, each group's means over its models, and the
    derived settings (`<lang>` = the group's own XQuAD prompt, `all` = the mean over languages)."""
    models = {name: models[name] for name in per_model}  # the models that ran this benchmark
    out: dict[str, Any] = {name: dict(settings) for name, settings in per_model.items()}
    groups: dict[str, list[str]] = {}
    for name in per_model:
        groups.setdefault(models[name].group, []).append(name)
    for group, names in groups.items():
        settings = per_model[names[0]]
        out[group] = {s: _mean_metrics([per_model[n][s] for n in names]) for s in settings}
        out[group]["models"] = names
    for key in list(out):
        if benchmark == "xquad":
            prompt = models[key].prompt if key in models else models[groups[key][0]].prompt
            langs = [s.split("/")[1] for s in out[key] if s.startswith(f"{prompt}-prompt/")]
            for lang in langs:
                out[key][lang] = out[key][f"{prompt}-prompt/{lang}"]
            out[key]["all"] = _mean_metrics([out[key][lang] for lang in langs])
        elif benchmark == "mgsm":
            for variant in ("en-cot", "trans-cot"):
                out[key][f"{variant}/all"] = _mean_metrics(
                    [v for s, v in out[key].items() if s.startswith(f"{variant}/")]
                )
    return out


def _mean_metrics(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean of each numeric metric over `summaries` (None unless every summary has it); `n` stays the items per
    model when all agree (else the list of them)."""
    out: dict[str, Any] = {}
    for key in summaries[0] if summaries else ():
        values = [s.get(key) for s in summaries]
        if key == "n":
            out[key] = values[0] if len(set(values)) == 1 else values
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            out[key] = mean(values)
        elif all(v is None or isinstance(v, int | float) for v in values):
            out[key] = None
    return out


def generation_records(
    sets: Mapping[str, Sets], outputs: Mapping[str, Mapping[str, Mapping[str, list[str]]]], items: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """One row per (model, benchmark, setting, item): id, output and its scores (the generations file)."""
    rows = []
    for model, by_benchmark in outputs.items():
        for benchmark, by_setting in by_benchmark.items():
            for setting, texts in by_setting.items():
                scored = items.get(model, {}).get(benchmark, {}).get(setting) or [{}] * len(texts)
                for record, text, item in zip(sets[benchmark][setting], texts, scored, strict=True):
                    rows.append({"model": model, "benchmark": benchmark, "setting": setting, "id": record["id"],
                                 "output": text, **item})  # fmt: skip
    return rows


def write_benchmark(
    config: Config,
    benchmark: str,
    content: Mapping[str, Any] | None,
    skipped: Mapping[str, str],
    root: str | Path = ".",
) -> Path:
    """`outputs/<profile>/metrics/<benchmark>.json` with provenance: `{"skipped": reason}` when `skipped` names the
    benchmark, else its metrics plus `skipped_settings` (`{lang: reason}`) for the languages that did not run."""
    if benchmark in skipped:
        body: dict[str, Any] = {"skipped": skipped[benchmark]}
    elif content is None:
        raise ValueError(f"{benchmark}: no metrics and no reason it was skipped")
    else:
        prefix = f"{benchmark}/"
        partial = {key[len(prefix) :]: reason for key, reason in skipped.items() if key.startswith(prefix)}
        body = {**content, **({"skipped_settings": partial} if partial else {})}
    path = experiment.profile_dir(config, root) / "metrics" / f"{benchmark}.json"
    return io.write_metrics(path, body, config.params(), config.experiment.seeds)


def write_benchmarks(
    config: Config,
    names: Sequence[str],
    metrics: Mapping[str, Mapping[str, Any]],
    skipped: Mapping[str, str],
    root: str | Path = ".",
) -> str:
    """`write_benchmark` for each of `names`; returns one status line each: the reason it was skipped (first line),
    or each group's `all` setting (else how many settings it has)."""
    lines = []
    for name in names:
        write_benchmark(config, name, metrics.get(name), skipped, root)
        if name in skipped:
            lines.append(f"{name}: SKIPPED — {skipped[name].splitlines()[0]}")
            continue
        groups = {
            key: value for key, value in metrics[name].items() if isinstance(value, Mapping) and "models" in value
        }
        shown = {g: v.get("all", f"{len(v) - 1} settings") for g, v in groups.items()}
        lines.append(f"{name}: {shown}")
    return "\n".join(lines)
