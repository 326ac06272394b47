"""The paper's tables as the run registry fills them: params `tables:` names each table's rows (label → run, and
optionally the paper row it is compared with), so every table reads the models trained on its own data.

`run_benchmarks(config)` is what evaluation reads (each run is evaluated on the benchmarks of the tables it is a row
of, `paper_tables.BENCHMARKS`); `table_specs(config)` is what the notebooks pass to `write_paper_tables`. A table the
profile does not list keeps its default rows (`paper_rows.MODELS`: our `it`/`sit` pair).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seqit_utils.config import Config
from seqit_utils.tables import specs, study_specs
from seqit_utils.tables.layout import TableSpec
from seqit_utils.tables.paper_numbers import Selector
from seqit_utils.tables.paper_rows import COTS, DEFAULT_PAPER_ROWS, TABLE_7_MODELS
from seqit_utils.tables.paper_tables import BENCHMARKS

ROW_TABLES = ("table_1", "table_2", "table_5", "table_6", "table_9", "table_10", "table_11", "table_12", "table_13")
COLUMN_TABLES = ("table_7", "table_8")  # rows are the paper's models / prompts; `rows:` maps column prefixes to runs
# Tables whose rows are (label × CoT prompt) or (label × iteration): default rows carry this suffix and field
_PER_LABEL = {"table_10": (f" {COTS[0]}", "prompt"), "table_11": (f" {COTS[0]}", "prompt"),
              "table_13": (" · iteration 1", "iteration")}  # fmt: skip


def rows(config: Config, table: str) -> dict[str, str]:
    """Row label → run of `table` (params `tables:`)."""
    return {label: row.run for label, row in config.tables[table].rows.items()} if table in config.tables else {}


def run_benchmarks(config: Config) -> dict[str, list[str]]:
    """Run → the benchmarks (metrics files) of every table it is a row of, in first-seen order."""
    out: dict[str, list[str]] = {}
    for table in config.tables:
        for run in rows(config, table).values():
            needed = out.setdefault(run, [])
            needed += [b for b in BENCHMARKS[table] if b not in needed]
    return out


def paper_selector(config: Config, table: str, label: str) -> Selector:
    """The paper row `label` of `table` is compared with: `tables.<table>.rows.<label>.paper`, else the default."""
    given = config.tables[table].rows[label].paper
    if given is not None:
        return given
    defaults = DEFAULT_PAPER_ROWS.get(table, {})
    if table in _PER_LABEL:  # defaults per (label, CoT prompt / iteration): the selector without that field
        suffix, field = _PER_LABEL[table]
        defaults = {k.removesuffix(suffix): {f: v for f, v in s.items() if f != field}
                    for k, s in defaults.items() if k.endswith(suffix)}  # fmt: skip
    default = defaults.get(label)
    if default is None:
        known = ", ".join(defaults) or "none"
        raise ValueError(
            f"tables.{table}.rows.{label!r}: no default paper row for this label (defaults: {known}); give "
            "`paper: {<field>: <value>, ...}`, a selector of the paper's row (seqit_utils/paper/*.yaml)"
        )
    return default


def _with(selector: Selector, **extra: Any) -> Selector:
    return {**selector, **extra}


def table_specs(config: Config, probe_set: str = "csqa_repeat") -> dict[str, TableSpec]:
    """The specs of every table listed in params `tables:` (the others keep `paper_tables.SPECS`); `probe_set`:
    the probe set Table 1 shows."""
    out: dict[str, TableSpec] = {}
    for table in config.tables:
        models = rows(config, table)
        if table in COLUMN_TABLES:
            out[table] = _column_spec(config, table, models)
            continue
        if table not in ROW_TABLES:
            raise ValueError(f"tables.{table}: rows of runs make no sense here; allowed: {', '.join(ROW_TABLES)}")
        paper = {label: paper_selector(config, table, label) for label in models}
        out[table] = _row_spec(table, models, paper, probe_set)
    return out


def _row_spec(table: str, models: Mapping[str, str], paper: Mapping[str, Selector], probe_set: str) -> TableSpec:
    if table == "table_1":
        return study_specs.probe_spec(
            probe_set=probe_set, models={"base": "base", **models}, paper_rows={**_BASE_ROW, **paper}
        )
    if table in ("table_2", "table_9"):
        build = specs.xquad_summary_spec if table == "table_2" else specs.xquad_spec
        return build(table, models, paper)
    if table in ("table_5", "table_6"):
        return (specs.main_spec if table == "table_5" else specs.ablation_spec)(table, models, paper)
    if table in ("table_10", "table_11"):
        rows = {f"{label} {cot}": _with(paper[label], prompt=cot) for label in models for cot in COTS}
        return specs.mgsm_spec(table, models, rows)
    if table == "table_12":
        return specs.seqeval_spec(table, models, paper)
    rows = {f"{label} · iteration {k}": _with(paper[label], iteration=k) for k in (1, 2, 3, 4) for label in models}
    return specs.seqeval_tasks_spec(table, models, paper_rows=rows)


_BASE_ROW = {"base": DEFAULT_PAPER_ROWS["table_1"]["base"]}


def _column_spec(config: Config, table: str, columns: Mapping[str, str]) -> TableSpec:
    """Tables 7/8: `rows:` maps column prefixes (it_alpaca, sit_repeat, sit_paraphrase / it, sit_repeat,
    sit_paraphrase) to runs; the compared paper row is the first row's `paper` selector, else the default."""
    first = next(iter(config.tables[table].rows.values()))
    if table == "table_7":
        unknown = set(columns) - set(TABLE_7_MODELS)
        if unknown:
            raise ValueError(f"tables.table_7.rows: {sorted(unknown)}; allowed: {', '.join(TABLE_7_MODELS)}")
        ours = {column: (run, TABLE_7_MODELS[column][1]) for column, run in columns.items()}
        paper = {"ours": first.paper or DEFAULT_PAPER_ROWS["table_7"]["ours"]}
        return specs.csqa_spec(table, {"ours": ours}, paper)
    paper = {p: {**s, **(first.paper or {})} for p, s in DEFAULT_PAPER_ROWS["table_8"].items()}
    return specs.csqa_prompts_spec(table, dict(columns), paper)
