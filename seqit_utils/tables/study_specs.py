"""The paper's study tables beside the benchmark ones (`seqit_utils.tables.specs`): the repeat-then-answer probe
(Table 1, notebook 01), multimodal SIT (Table 3, notebook 07) and the Seq-Instruct data statistics (Table 4,
notebook 03), as `seqit_utils.tables.layout.TableSpec`s with the paper's columns and rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from seqit_utils.tables.layout import Measure, TableSpec
from seqit_utils.tables.paper_numbers import Selector, paper_table
from seqit_utils.tables.paper_rows import MODELS
from seqit_utils.tables.specs import paper_rows_or_default

OPTION_COLUMNS = {"decompose": "A", "prefix": "B", "suffix": "C", "hold": "D"}  # Table 4 columns, App. B.4 options


def probe_set(names: Sequence[str]) -> str:
    """The probe set Table 1 shows: CommonsenseQA's repeat prompts (§1) when evaluated, else the first set (the task
    suite's in smoke)."""
    if not names:
        raise ValueError("probe sets: none given; expected the names of notebook 01's repeat-then-answer sets")
    return "csqa_repeat" if "csqa_repeat" in names else names[0]


def probe_spec(
    name: str = "table_1",
    probe_set: str = "csqa_repeat",
    models: Mapping[str, str] | None = None,
    paper_rows: Mapping[str, Selector] | None = None,
) -> TableSpec:
    """Table 1 (§1): the repeat-then-answer probe (notebook 01's `metrics/probe.json`, `<set>.<model>` keys) of the
    untuned base, IT and SIT models: ROUGE-L and BERTScore of the repetition, following rates."""
    names = {"rouge_l_repeat": "rouge_l_R", "bertscore_repeat": "bertscore_R", "follow_repeat": "follow_R"}
    names |= {"follow_answer": "follow_A", "follow_both": "follow_RA"}

    def cell(model: str, column: str) -> Measure:
        return Measure(f"probe.{probe_set}.{model}.{names[column]}", "probe")

    caption = f"Repeat-then-answer probe on {probe_set}: repetition ROUGE-L / BERTScore, following rates (%)."
    models = models or {"base": "base", **MODELS}
    return TableSpec(name, caption, models, paper_rows_or_default(name, paper_rows), cell)


def multimodal_spec(name: str = "table_3", paper_rows: Mapping[str, Selector] | None = None) -> TableSpec:
    """Table 3 (§4.1.2): InstructBLIP VQA accuracy (VQAv2 soft accuracy, GQA exact match) per condition (notebook
    07's `metrics/multimodal.json`: `<condition>.<dataset>.accuracy`). SIT (neg.), a wrong caption forced first, is
    only in arXiv v1 (its Table 4): no NAACL row, v1's numbers in a note."""
    conditions = {"prompt": "prompt", "IT": "it", "SIT": "sit", "SIT (neg.)": "sit_neg"}

    def cell(condition: str, column: str) -> Measure:
        return Measure(f"multimodal.{condition}.{column}.accuracy", "VQA accuracy")

    v1 = paper_table("table_4", "arxiv_v1")
    negative = ", ".join(f"{c} {v1.printed({'method': 'SIT (neg.)'}, c)}" for c in v1.columns)
    note = f"SIT (neg.) is in arXiv v1 only: {v1.where} prints {negative}."
    caption = "Caption-then-answer VQA accuracy (%): VQAv2 (in-domain), GQA (out-of-domain)."
    rows = paper_rows_or_default(name, paper_rows)
    return TableSpec(name, caption, conditions, rows, cell, stub="condition", notes=(note,))


def statistics_spec(
    name: str = "table_4",
    iterations: Sequence[int] = (1, 2),
    seed_data: str = "Alpaca",
    paper_rows: Mapping[str, Selector] | None = None,
) -> TableSpec:
    """Table 4 (§4.2): our Seq-Instruct run's statistics per iteration (notebook 03's `metrics/seq_instruct.json`,
    `table4.iterations.<k>`): average input / output tokens (our MiniLM WordPiece count; the paper's tokenizer is
    not stated) and the share of each option. Compared with the paper's `seed_data` rows of the same iteration."""
    rows = {f"ours · iteration {k}": k for k in iterations}
    default = {label: {"seed_data": seed_data, "iteration": k} for label, k in rows.items()}

    def cell(k: int, column: str) -> Measure:
        if column in OPTION_COLUMNS:
            return Measure(f"seq_instruct.table4.iterations.{k}.option_share.{OPTION_COLUMNS[column]}", "share")
        return Measure(f"seq_instruct.table4.iterations.{k}.{column}", "MiniLM tokens")

    caption = "Seq-Instruct data per iteration: average input/output tokens and the share (%) of each option."
    scale = {"avg_input_tokens": 1.0, "avg_output_tokens": 1.0}
    return TableSpec(name, caption, rows, default if paper_rows is None else paper_rows, cell, scale=scale, stub="run")
