"""Write the paper's tables from a metrics folder: `SPECS` (the default layouts of `seqit_utils.tables.specs` and
`study_specs`), the metrics files each reads, and notes naming what did not run or ran without a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from seqit_utils.tables import specs, study_specs
from seqit_utils.tables.layout import Table, TableSpec, build_table, load_metrics, lookup, write_table

SPECS: dict[str, TableSpec] = {
    "table_1": study_specs.probe_spec(),
    "table_2": specs.xquad_summary_spec(),
    "table_3": study_specs.multimodal_spec(),
    "table_4": study_specs.statistics_spec(),
    "table_5": specs.main_spec(),
    "table_6": specs.ablation_spec(),
    "table_7": specs.csqa_spec(),
    "table_8": specs.csqa_prompts_spec(),
    "table_9": specs.xquad_spec(),
    "table_10": specs.mgsm_spec("table_10"),
    "table_11": specs.mgsm_spec("table_11"),
    "table_12": specs.seqeval_spec(),
    "table_13": specs.seqeval_tasks_spec(),
}
_TABLE_5 = ("mmlu", "arc_challenge", "gsm8k", "humaneval", "alpaca_eval", "xquad", "mgsm", "seqeval")
# The metrics files (benchmarks) each table reads; a missing or skipped one is named in the table's notes.
BENCHMARKS = {
    "table_1": ("probe",),
    "table_2": ("xquad",),
    "table_3": ("multimodal",),
    "table_4": ("seq_instruct",),
    "table_5": _TABLE_5,
    "table_6": _TABLE_5,
    "table_7": ("csqa",),
    "table_8": ("csqa",),
    "table_9": ("xquad",),
    "table_10": ("mgsm",),
    "table_11": ("mgsm",),
    "table_12": ("seqeval",),
    "table_13": ("seqeval",),
}


def paper_table(name: str, metrics: Mapping[str, Any], spec: TableSpec | None = None) -> Table:
    """`build_table` with `SPECS[name]` (or `spec`, e.g. with the registry's rows)."""
    return build_table(spec or SPECS[name], metrics)


def write_paper_tables(
    names: Sequence[str],
    metrics_dir: str | Path,
    out_dir: str | Path,
    table_specs: Mapping[str, TableSpec] | None = None,
) -> dict[str, Table]:
    """Build tables `names` (with `table_specs[name]` where given, else `SPECS[name]`) from every metrics file in
    `metrics_dir` and write each as `<name>.md/.csv/.tex` into `out_dir`; a benchmark the table reads that has no
    metrics file, or was skipped, is named in its notes, and so is a column run without a value."""
    metrics = load_metrics(metrics_dir)
    tables = {}
    for name in names:
        spec = (table_specs or {}).get(name) or SPECS[name]
        table = build_table(spec, metrics)
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
        empty = _empty_columns(table, spec, metrics, BENCHMARKS[name])
        if empty:
            why = "no value computed, e.g. no judge verdict parsed; see the metrics files"
            table = replace(table, notes=(*table.notes, f"Empty although run: {', '.join(empty)} ({why})."))
        write_table(table, out_dir, name)
        tables[name] = table
    return tables


def _empty_columns(table: Table, spec: TableSpec, metrics: Mapping[str, Any], benchmarks: Sequence[str]) -> list[str]:
    """Measured columns with no value of ours in any row although they were evaluated: for some row every setting
    the cell reads (`<benchmark>.<model>.<setting>`) exists, or, for a cell computed without paths (Table 13), the
    table's one benchmark ran. A mean over languages of which some did not run is not "empty although run"."""
    ran_whole = len(benchmarks) == 1 and isinstance(metrics.get(benchmarks[0]), Mapping)
    ran_whole = ran_whole and "skipped" not in metrics[benchmarks[0]]
    empty = []
    for column in table.columns:
        lines = [line for (_, c), line in table.lines.items() if c == column]
        if any(line.ours is not None for line in lines):
            continue
        measures = [spec.cell(key, column) for key in spec.rows.values()]
        sources = [_paths(m.ours) for m in measures if m is not None and m.ours is not None]
        ran = any(
            paths and all(lookup(metrics, ".".join(p.split(".")[:3])) is not None for p in paths) for paths in sources
        )
        if ran or (ran_whole and sources and not any(sources)):
            empty.append(column)
    return empty


def _paths(getter: Any) -> list[str]:
    """The metrics paths a getter reads: the path itself, or a computed getter's `paths` (none: unknown)."""
    return [getter] if isinstance(getter, str) else list(getattr(getter, "paths", ()))


def _first_line(text: str) -> str:
    """The first sentence of a (loader's multi-line) message."""
    return re.split(r"(?<=\.)\s", str(text).strip(), maxsplit=1)[0]
