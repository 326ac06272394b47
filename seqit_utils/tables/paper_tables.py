"""The paper's table layouts (Tables 2, 3, 5, 7-11, 13) as `seqit_utils.tables.layout.TableSpec`s over our metrics
files.

Row and column labels are the ones `templates/paper_numbers.yaml` uses. The layouts follow the issue's description
of each table; none could be checked against the paper's printed tables here (see paper_numbers.yaml).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from seqit_utils.tables.layout import (
    PERCENT,
    SCORE,
    Getter,
    Table,
    TableSpec,
    as_number,
    build_table,
    load_metrics,
    load_reference,
    lookup,
    write_table,
)

MODELS = {"IT": "it", "SIT": "sit"}  # row label -> model key; pass e.g. {"Llama-3-8B / Alpaca / SIT": "..."}
XQUAD_SEEN = ("de", "zh", "ru", "es")  # §4.1.1: translated into the SIT training data
XQUAD_UNSEEN = ("ar", "el", "vi", "hi", "tr", "th")
MGSM_LANGS = ("en", "es", "fr", "de", "ru", "zh", "ja", "th", "sw", "bn", "te")
TABLE_5 = {  # column -> path template; "all" = the whole benchmark. SeqEval's metric is our choice (unchecked).
    "MMLU": "mmlu.{row}.all.accuracy",
    "ARC": "arc_challenge.{row}.all.accuracy",
    "GSM8K": "gsm8k.{row}.all.accuracy",
    "HumanEval": "humaneval.{row}.all.pass@1",
    "AlpacaEval": "alpaca_eval.{row}.all.win_rate",
    "XQuAD": "xquad.{row}.all.accuracy",
    "MGSM": "mgsm.{row}.en-cot/all.accuracy",
    "SeqEval": "seqeval.mean.{row}.follow_rate",  # notebook 04's metrics: the mean over seeds
}


def mean_of(paths: Sequence[str]) -> Callable[[Mapping[str, Any]], float | None]:
    """A getter: the mean of the values at `paths`, None unless all are present (a partial mean is not reported)."""

    def get(metrics: Mapping[str, Any]) -> float | None:
        values = [as_number(lookup(metrics, p), p) for p in paths]
        present = [v for v in values if v is not None]
        return sum(present) / len(present) if present and len(present) == len(values) else None

    return get


def xquad_spec(name: str = "table_9", models: Mapping[str, str] = MODELS) -> TableSpec:
    """Tables 2/9: XQuAD accuracy per language, IT vs SIT ('translate, then answer', §4.1.1)."""
    langs = (*XQUAD_SEEN, *XQUAD_UNSEEN, "en")
    caption = "XQuAD accuracy (%) per language; seen: de/zh/ru/es, unseen: ar/el/vi/hi/tr/th."
    return TableSpec(name, caption, tuple(models), langs, "xquad.{row}.{column}.accuracy", row_keys=models)


def xquad_summary_spec(name: str = "table_2", models: Mapping[str, str] = MODELS) -> TableSpec:
    """Table 2 (our summary layout): XQuAD accuracy on English and the means over seen and unseen languages."""
    groups = {"en": ("en",), "seen": XQUAD_SEEN, "unseen": XQUAD_UNSEEN}
    caption = "XQuAD accuracy (%): English, mean over seen (de/zh/ru/es) and unseen (ar/el/vi/hi/tr/th) languages."

    def cell(model: str, group: str) -> Getter:
        return mean_of([f"xquad.{model}.{lang}.accuracy" for lang in groups[group]])

    return TableSpec(name, caption, tuple(models), tuple(groups), cell, row_keys=models)


def main_spec(name: str = "table_5", models: Mapping[str, str] = MODELS) -> TableSpec:
    """Table 5: general and sequential benchmarks per training data, IT vs SIT (all in %)."""
    caption = "Main results (%): MMLU, ARC, GSM8K, HumanEval pass@1, AlpacaEval win rate, XQuAD, MGSM, SeqEval."
    return TableSpec(name, caption, tuple(models), tuple(TABLE_5), TABLE_5, row_keys=models, stub="training data")


def csqa_spec(name: str, task: str, models: Mapping[str, str] = MODELS) -> TableSpec:
    """Tables 7 (task "repeat") / 8 ("paraphrase"): CommonsenseQA without and with the intermediate task."""
    columns = {"non-seq. acc.": ("single", "accuracy"), f"{task} acc.": (task, "accuracy")}
    columns[f"{task} follow"] = (task, "follow_rate")
    caption = f"CommonsenseQA (%): accuracy without and with '{task}' first, and its following rate."
    template = "csqa.{row}.{column[0]}.{column[1]}"
    return TableSpec(name, caption, tuple(models), tuple(columns), template, row_keys=models, column_keys=columns)


def mgsm_spec(name: str = "table_10", models: Mapping[str, str] = MODELS) -> TableSpec:
    """Tables 10/11: MGSM accuracy per language with English CoT vs translate-then-CoT (split between the two
    tables unchecked)."""
    rows = {f"{label} {cot}": (key, cot.lower()) for label, key in models.items() for cot in ("en-CoT", "trans-CoT")}
    caption = "MGSM accuracy (%) per language: English chain of thought vs translating the question first."
    return TableSpec(name, caption, tuple(rows), MGSM_LANGS, "mgsm.{row[0]}.{row[1]}/{column}.accuracy", row_keys=rows)


def seqeval_tasks_spec(
    name: str = "table_13", models: Mapping[str, str] = MODELS, tasks: Sequence[int] = (2, 3, 4, 5)
) -> TableSpec:
    """Table 13 / Figure 2: SeqEval following rate (%) and judge score (1-5) per number of tasks (Seq-Instruct
    iteration k = k + 1 tasks), means over seeds of notebook 04's `seqeval.by_iteration` (`figures.tasks_curve`)."""
    from seqit_utils.analysis.figures import tasks_curve

    measures = {"follow": "follow_rate", "score": "score"}
    columns = {f"{label} {what}": (key, metric) for label, key in models.items() for what, metric in measures.items()}
    formats = {column: SCORE if metric == "score" else PERCENT for column, (_, metric) in columns.items()}

    def cell(row: str, column: tuple[str, str]) -> Getter:
        model, metric = column

        def get(metrics: Mapping[str, Any]) -> float | None:
            point = tasks_curve(metrics.get("seqeval") or {}).get(model, {}).get(int(row)) or {}
            return point.get(metric)

        return get

    caption = "SeqEval by number of tasks in the instruction: following rate (%) and judge score (1-5)."
    rows = tuple(str(n) for n in tasks)
    return TableSpec(name, caption, rows, tuple(columns), cell, column_keys=columns, formats=formats, stub="tasks")


MULTIMODAL_CONDITIONS = {"Prompt": "prompt", "IT": "it", "SIT": "sit", "SIT (neg.)": "sit_neg"}


def multimodal_spec(name: str = "table_3") -> TableSpec:
    """Table 3 (§4.1.2): InstructBLIP VQA accuracy (VQAv2 soft accuracy, GQA exact match; %) per condition: the base
    model prompted with the sequential instruction, IT, SIT, and SIT with a wrong caption forced first (notebook 07's
    `metrics/multimodal.json`: `<condition>.<dataset>.accuracy`)."""
    columns = {"VQAv2": "vqav2", "GQA": "gqa"}
    caption = "Caption-then-answer VQA (%): VQAv2 accuracy (in-domain) and GQA accuracy (out-of-domain)."
    return TableSpec(
        name, caption, tuple(MULTIMODAL_CONDITIONS), tuple(columns), "multimodal.{row}.{column}.accuracy",
        row_keys=MULTIMODAL_CONDITIONS, column_keys=columns, stub="condition",
    )  # fmt: skip


SPECS: dict[str, TableSpec] = {
    "table_2": xquad_summary_spec(),
    "table_3": multimodal_spec(),
    "table_5": main_spec(),
    "table_7": csqa_spec("table_7", "repeat"),
    "table_8": csqa_spec("table_8", "paraphrase"),
    "table_9": xquad_spec(),
    "table_10": mgsm_spec("table_10"),
    "table_11": mgsm_spec("table_11"),
    "table_13": seqeval_tasks_spec(),
}


def paper_table(
    name: str, metrics: Mapping[str, Any], spec: TableSpec | None = None, path: str | Path | None = None
) -> Table:
    """`build_table` with `SPECS[name]` (or `spec`) and the paper's numbers for `name` from paper_numbers.yaml."""
    return build_table(spec or SPECS[name], metrics, load_reference(name, path))


# The metrics files (benchmarks) each table reads; a missing or skipped one is named in the table's notes.
BENCHMARKS = {
    "table_2": ("xquad",),
    "table_3": ("multimodal",),
    "table_5": ("mmlu", "arc_challenge", "gsm8k", "humaneval", "alpaca_eval", "xquad", "mgsm", "seqeval"),
    "table_7": ("csqa",),
    "table_8": ("csqa",),
    "table_9": ("xquad",),
    "table_10": ("mgsm",),
    "table_11": ("mgsm",),
    "table_13": ("seqeval",),
}


def write_paper_tables(names: Sequence[str], metrics_dir: str | Path, out_dir: str | Path) -> dict[str, Table]:
    """Build tables `names` from every metrics file in `metrics_dir` and write each as `<name>.md/.csv/.tex` into
    `out_dir`; a benchmark the table reads that has no metrics file, or was skipped, is named in its notes."""
    metrics = load_metrics(metrics_dir)
    tables = {}
    for name in names:
        table = paper_table(name, metrics)
        absent = []
        for benchmark in BENCHMARKS[name]:
            content = metrics.get(benchmark)
            if content is None:
                absent.append(f"{benchmark}: no metrics file")
            elif isinstance(content, Mapping) and "skipped" in content and len(content) == 1:
                absent.append(f"{benchmark}: {_first_line(content['skipped'])}")
            elif isinstance(content, Mapping):
                for setting, reason in (content.get("skipped_settings") or {}).items():
                    absent.append(f"{benchmark} {setting}: {_first_line(reason)}")
        if absent:
            table = replace(table, notes=(*table.notes, "Not run: " + "; ".join(a.rstrip(".") for a in absent) + "."))
        empty = _empty_columns(table, SPECS[name], metrics, BENCHMARKS[name])
        if empty:
            why = "no value computed, e.g. no judge verdict parsed; see the metrics files"
            note = f"Empty although run: {', '.join(empty)} ({why})."
            table = replace(table, notes=(*table.notes, note))
        write_table(table, out_dir, name)
        tables[name] = table
    return tables


def _empty_columns(table: Table, spec: TableSpec, metrics: Mapping[str, Any], benchmarks: Sequence[str]) -> list[str]:
    """Columns with no value in any row although their setting was evaluated (`<benchmark>.<model>.<setting>`
    exists for some row; for computed cells: the table's one benchmark ran): the run produced no number, e.g. no
    judge verdict parsed."""
    ran_whole = len(benchmarks) == 1 and isinstance(metrics.get(benchmarks[0]), Mapping)
    ran_whole = ran_whole and "skipped" not in metrics[benchmarks[0]]
    empty = []
    for column in table.columns:
        if any(table.value(row, column) is not None for row in table.rows):
            continue
        getters = [spec.getter(row, column) for row in table.rows]
        paths = [g.split(".") for g in getters if isinstance(g, str)]
        if any(lookup(metrics, ".".join(path[:3])) is not None for path in paths) or (ran_whole and not paths):
            empty.append(column)
    return empty


def _first_line(text: str) -> str:
    """The first sentence of a (loader's multi-line) message."""
    return re.split(r"(?<=\.)\s", str(text).strip(), maxsplit=1)[0]
