"""The paper's benchmark tables (NAACL 2025: 2, 5-13) as `seqit_utils.tables.layout.TableSpec`s over our metrics.

Each builder takes `models` (our row label -> the model key in the metrics files) and `paper_rows` (our row label ->
selector of the paper row it is compared with); the run registry can supply both. The defaults compare our `it` /
`sit` pair with the paper's main Llama-3-8B rows, except where the paper has none: Tables 7 and 8 (Mistral-7B, the
one model of Table 8), Table 3 (InstructBLIP): `seqit_utils.tables.paper_rows`. Columns are the paper's (the YAML's
`columns`, in printed order).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from seqit_utils.tables.layout import Getter, Measure, TableSpec, as_number, lookup
from seqit_utils.tables.paper_numbers import Selector
from seqit_utils.tables.paper_rows import (
    COTS,
    DEFAULT_PAPER_ROWS,
    FLANCOT_MODELS,
    MODELS,
    TABLE_6_RUNS,
    TABLE_7_MODELS,
    TABLE_8_MODELS,
    TABLE_8_PROMPTS,
)

XQUAD_SEEN = ("de", "zh", "ru", "es")  # §4.1.1: translated into the SIT training data
XQUAD_UNSEEN = ("ar", "el", "vi", "hi", "tr", "th")
XQUAD_LANGS = (*XQUAD_SEEN, *XQUAD_UNSEEN)  # Table 2's avg_acc / follow: plain means over these ten
# Benchmarks with one metric (no paper/strict pair); `metric` names it in the table.
SINGLE = {
    "mmlu": ("mmlu.{m}.all.accuracy", "lm-eval acc"),
    "arc": ("arc_challenge.{m}.all.accuracy", "lm-eval acc_norm"),
    "gsm8k": ("gsm8k.{m}.all.accuracy", "lm-eval exact_match flexible"),
    "humaneval": ("humaneval.{m}.all.pass@10", "lm-eval pass@10"),
    "alpacaeval2": ("alpaca_eval.{m}.all.win_rate", "AlpacaEval win rate"),
    "seqeval": ("seqeval.mean.{m}.win_rate", "judge win rate"),
}
BENCHMARK_NOTES = (
    "alpacaeval2: ours = win rate against the recorded reference outputs (params evaluation.alpaca_eval), the "
    "paper's = AlpacaEval 2.0; seqeval: ours = the judge's win rate of seqeval.pairwise's first model against its "
    "second (SIT vs IT), the paper's = against GPT-3.5-Turbo.",
)


def mean_of(paths: Sequence[str]) -> Callable[[Mapping[str, Any]], float | None]:
    """A getter: the mean of the values at `paths`, None unless all are present (a partial mean is not reported)."""

    def get(metrics: Mapping[str, Any]) -> float | None:
        values = [as_number(lookup(metrics, p), p) for p in paths]
        present = [v for v in values if v is not None]
        return sum(present) / len(present) if present and len(present) == len(values) else None

    get.paths = tuple(paths)  # type: ignore[attr-defined]  # what it reads, for the tables' "empty although run"
    return get


def difference(minuend: str, subtrahend: str) -> Callable[[Mapping[str, Any]], float | None]:
    """A getter: value at `minuend` − value at `subtrahend`, None unless both are present."""

    def get(metrics: Mapping[str, Any]) -> float | None:
        a, b = (as_number(lookup(metrics, p), p) for p in (minuend, subtrahend))
        return None if a is None or b is None else a - b

    get.paths = (minuend, subtrahend)  # type: ignore[attr-defined]
    return get


def xquad_measure(model: str, langs: Sequence[str], what: str) -> Measure:
    """XQuAD accuracy (`what` = "acc") or following (`follow`) over `langs` (one language or the mean of all):
    the paper's metric; strict accuracy (or following), SQuAD EM/F1 against the English gold and against the
    in-language gold (`native`), as `seqit_utils.evaluate.scoring.score_xquad` writes them."""

    def over(metric: str) -> Getter:
        paths = [f"xquad.{model}.{lang}.{metric}" for lang in langs]
        return paths[0] if len(paths) == 1 else mean_of(paths)

    if what == "follow":
        return Measure(over("paper_follow_rate"), strict={"strict": over("strict_follow_rate")})
    strict = {"strict": "strict_accuracy", "strict EM": "strict_exact_match", "strict F1": "strict_f1"}
    strict |= {"strict EM native": "strict_exact_match_native", "strict F1 native": "strict_f1_native"}
    return Measure(over("paper_accuracy"), strict={name: over(metric) for name, metric in strict.items()})


def xquad_summary_spec(
    name: str = "table_2", models: Mapping[str, str] = MODELS, paper_rows: Mapping[str, Selector] | None = None
) -> TableSpec:
    """Table 2 (§4.1.1): XQuAD accuracy per language, its mean over the ten languages, and the following rate."""

    def cell(model: str, column: str) -> Measure:
        if column == "follow":
            return xquad_measure(model, XQUAD_LANGS, "follow")
        return xquad_measure(model, XQUAD_LANGS if column == "avg_acc" else [column], "acc")

    caption = "XQuAD accuracy (%) per language (seen: de/zh/ru/es), mean accuracy and following rate."
    return TableSpec(name, caption, models, paper_rows_or_default(name, paper_rows), cell)


def xquad_spec(
    name: str = "table_9", models: Mapping[str, str] = MODELS, paper_rows: Mapping[str, Selector] | None = None
) -> TableSpec:
    """Table 9: XQuAD accuracy and following rate per language and averaged."""

    def cell(model: str, column: str) -> Measure:
        lang, what = column.rsplit("_", 1)
        return xquad_measure(model, XQUAD_LANGS if lang == "avg" else [lang], what)

    caption = "XQuAD accuracy and following rate (%) per language and averaged over the ten languages."
    return TableSpec(name, caption, models, paper_rows_or_default(name, paper_rows), cell)


def benchmark_measure(model: str, column: str) -> Measure:
    """Tables 5 and 6: one benchmark column for one model (XQuAD: the ten-language mean; MGSM: trans-CoT, whose
    averages Table 5 prints)."""
    if column == "xquad":  # strict accuracy only: EM/F1 and the in-language gold are Table 2/9's detail
        full = xquad_measure(model, XQUAD_LANGS, "acc")
        return Measure(full.ours, strict={"strict": full.strict["strict"]})
    if column == "mgsm8k":
        path = f"mgsm.{model}.trans-cot/all.{{}}"
        return Measure(path.format("paper_accuracy"), strict={"strict": path.format("strict_accuracy")})
    template, metric = SINGLE[column]
    return Measure(template.format(m=model), metric)


def main_spec(
    name: str = "table_5", models: Mapping[str, str] = MODELS, paper_rows: Mapping[str, Selector] | None = None
) -> TableSpec:
    """Table 5 (§4.2): generic and sequential benchmarks, IT vs SIT."""
    caption = "Generic (MMLU, ARC, GSM8K, HumanEval pass@10, AlpacaEval) and sequential (XQuAD, MGSM, SeqEval) tasks."
    rows = paper_rows_or_default(name, paper_rows)
    return TableSpec(name, caption, models, rows, benchmark_measure, stub="training", notes=BENCHMARK_NOTES)


def ablation_spec(
    name: str = "table_6", models: Mapping[str, str] = TABLE_6_RUNS, paper_rows: Mapping[str, Selector] | None = None
) -> TableSpec:
    """Table 6 (§5.1, §5.2): the ablation runs on Table 5's benchmarks."""
    caption = "Ablations (length, task structure, generator, base model) on Table 5's benchmarks."
    rows = paper_rows_or_default(name, paper_rows)
    return TableSpec(name, caption, models, rows, benchmark_measure, stub="run", notes=BENCHMARK_NOTES)


def csqa_spec(
    name: str = "table_7",
    rows: Mapping[str, Mapping[str, tuple[str, str]]] | None = None,
    paper_rows: Mapping[str, Selector] | None = None,
) -> TableSpec:
    """Table 7 (§4, App. A): zero-shot CommonsenseQA accuracy of IT, SIT-repeat and SIT-paraphrase (each with its
    own prompt); `rows` maps a row label to {column: (model key, CSQA prompt)}."""

    def cell(models: Mapping[str, tuple[str, str]], column: str) -> Measure | None:
        if column not in models:
            return None  # prompting_7shot: a figure the paper quotes from Touvron et al., not run here
        model, prompt = models[column]
        path = f"csqa.{model}.{prompt}.{{}}"
        return Measure(path.format("paper_accuracy"), strict={"strict": path.format("strict_accuracy")})

    caption = "CommonsenseQA accuracy (%) after IT, SIT with repeat first, SIT with paraphrase first."
    return TableSpec(name, caption, rows or {"ours": TABLE_7_MODELS}, paper_rows_or_default(name, paper_rows), cell)


def csqa_prompts_spec(
    name: str = "table_8", models: Mapping[str, str] = TABLE_8_MODELS, paper_rows: Mapping[str, Selector] | None = None
) -> TableSpec:
    """Table 8 (App. A): CommonsenseQA accuracy and following rate per evaluation prompt (rows) and training method
    (column prefix; `models` maps it to a model key)."""

    def cell(prompt: str, column: str) -> Measure | None:
        prefix, what = column.rsplit("_", 1)
        if prefix not in models or (prompt == "single" and what == "follow"):
            return None  # a training method without a run here, or no intermediate step to follow
        metric = "accuracy" if what == "acc" else "follow_rate"
        path = f"csqa.{models[prefix]}.{prompt}.{{}}_{metric}"
        return Measure(path.format("paper"), strict={"strict": path.format("strict")})

    caption = "CommonsenseQA accuracy and following rate (%) when the test-time first step differs from training."
    return TableSpec(name, caption, TABLE_8_PROMPTS, paper_rows_or_default(name, paper_rows), cell, stub="eval prompt")


def mgsm_spec(
    name: str = "table_10",
    models: Mapping[str, str] | None = None,
    paper_rows: Mapping[str, Selector] | None = None,
) -> TableSpec:
    """Tables 10 (Alpaca) / 11 (FlanCoT): 8-shot MGSM accuracy per language, English CoT vs translate-then-CoT;
    `delta` = trans-CoT average − en-CoT average, on the trans-CoT rows. Default models: `MODELS` for Table 10,
    the registry's FlanCoT runs for Table 11 (`FLANCOT_MODELS`; the paper has no Alpaca row there)."""
    models = models or (FLANCOT_MODELS if name == "table_11" else MODELS)
    rows = {f"{label} {cot}": (key, cot.lower()) for label, key in models.items() for cot in COTS}

    def cell(row: tuple[str, str], column: str) -> Measure | None:
        model, cot = row
        if column == "delta":
            if cot == "en-cot":
                return None
            path = f"mgsm.{model}.{{}}/all.{{}}"
            paper = difference(path.format("trans-cot", "paper_accuracy"), path.format("en-cot", "paper_accuracy"))
            strict = difference(path.format("trans-cot", "strict_accuracy"), path.format("en-cot", "strict_accuracy"))
            return Measure(paper, strict={"strict": strict})
        path = f"mgsm.{model}.{cot}/{'all' if column == 'avg' else column}.{{}}"
        return Measure(path.format("paper_accuracy"), strict={"strict": path.format("strict_accuracy")})

    caption = "MGSM accuracy (%) per language: English chain of thought vs translating the question first."
    return TableSpec(name, caption, rows, paper_rows_or_default(name, paper_rows), cell)


def seqeval_spec(
    name: str = "table_12", models: Mapping[str, str] = MODELS, paper_rows: Mapping[str, Selector] | None = None
) -> TableSpec:
    """Table 12 (App. B.5): SeqEval judge score (1-5) and following rate, means over seeds (notebook 04). The paper's
    win rates are against GPT-3.5-Turbo and Command-R answers, which we do not judge against: not measured."""

    def cell(model: str, column: str) -> Measure | None:
        if column in ("score", "follow"):
            return Measure(f"seqeval.mean.{model}.{'score' if column == 'score' else 'follow_rate'}", "judge")
        return None

    caption = "SeqEval: judge score (1-5), following rate and win rates (%)."
    return TableSpec(name, caption, models, paper_rows_or_default(name, paper_rows), cell, scale={"score": 1.0})


def seqeval_tasks_spec(
    name: str = "table_13",
    models: Mapping[str, str] = MODELS,
    iterations: Sequence[int] = (1, 2, 3, 4),
    paper_rows: Mapping[str, Selector] | None = None,
) -> TableSpec:
    """Table 13 / Figure 2: SeqEval score and following rate per construction iteration k (k + 1 tasks, §5.3),
    means over seeds of notebook 04's `seqeval.by_iteration` (`figures.tasks_curve`)."""
    from seqit_utils.analysis.figures import tasks_curve

    rows = {f"{label} · iteration {k}": (key, k) for k in iterations for label, key in models.items()}

    def cell(row: tuple[str, int], column: str) -> Measure | None:
        model, k = row
        if column not in ("score", "follow"):
            return None

        def get(metrics: Mapping[str, Any]) -> float | None:
            point = tasks_curve(metrics.get("seqeval") or {}).get(model, {}).get(k + 1) or {}
            return point.get("score" if column == "score" else "follow_rate")

        return Measure(get, "judge")

    caption = "SeqEval by construction iteration (k + 1 tasks): judge score (1-5), following and win rates (%)."
    return TableSpec(name, caption, rows, paper_rows_or_default(name, paper_rows), cell, scale={"score": 1.0})


def paper_rows_or_default(name: str, given: Mapping[str, Selector] | None) -> Mapping[str, Selector]:
    """`given`, or the table's default rows (`seqit_utils.tables.paper_rows.DEFAULT_PAPER_ROWS`)."""
    return DEFAULT_PAPER_ROWS[name] if given is None else given
