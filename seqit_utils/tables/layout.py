"""The paper's result tables from our metrics files, the paper's own numbers beside ours: specs, build, renderers.

Metrics path convention. Evaluation code writes `outputs/<profile>/metrics/<benchmark>.json` (via
`io.write_metrics`) as `{model: {setting: {metric: value}}}`; `load_metrics` maps each file's stem to its content, so
a value's dotted path is `<benchmark>.<model>.<setting>.<metric>`, e.g. `xquad.sit.de.paper_accuracy`.
- benchmark: file stem (`mmlu`, `arc_challenge`, `gsm8k`, `humaneval`, `alpaca_eval`, `xquad`, `mgsm`, `csqa`,
  `seqeval`, `multimodal`, `probe`).
- model: the fine-tuned model's key (`it`, `sit`, a run name of the registry, ...).
- setting: a language (`de`), `all`, a CSQA condition (`single`, `repeat`, `paraphrase`), `en-cot/<lang>` /
  `trans-cot/<lang>` for MGSM.
- metric: for our prompt benchmarks (XQuAD, MGSM, CSQA) two named metrics (issue 17): `paper_accuracy`,
  `paper_follow_rate` (the authors' definitions) and `strict_accuracy`, `strict_follow_rate`, `strict_exact_match`,
  `strict_f1`, `strict_exact_match_native`, `strict_f1_native` (ours); harness benchmarks and AlpacaEval keep their
  single metric (`accuracy`, `pass@10`, `win_rate`), judged SeqEval its `score` and `follow_rate`. Rates are
  fractions in [0, 1]; a spec's `scale` takes them to the paper's units.
A key that itself holds dots (`csqa_repeat.sit` in probe.json) still resolves: `lookup` tries the longest key first.
A missing key or a None value is a missing cell, shown as "–", never 0.

Every table sits beside the paper's (`seqit_utils.tables.paper_numbers`): its columns are the paper table's columns,
and each of our rows names the paper row it is compared with (`TableSpec.paper_rows`, a selector), so every line
carries `ours` (our value with the paper's metric), `paper` (as printed) and `Δ` = ours − paper, then the strict
metric(s). Layout: one line per (our row, paper column) rather than the paper's wide grid, because each cell holds
four or more numbers: Table 9 wide would be 22 columns × 4-7 values, unreadable in markdown and off a LaTeX page,
while the long form keeps a cell's numbers side by side on one line, the paper's labels and column order, and is
tidy CSV.
"""

from __future__ import annotations

import csv
import io as _io
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqit_utils.io import write_text
from seqit_utils.tables.paper_numbers import DEFAULT_VERSION, Selector, paper_table

MISSING = "–"
PAPER_METRIC = "paper"  # `Measure.metric` of a value computed with the authors' definition (issue 17)
Getter = str | Callable[[Mapping[str, Any]], float | None]  # a dotted path, or a function of the metrics mapping


@dataclass(frozen=True)
class Measure:
    """Where one cell's numbers come from: `ours` with the paper's metric (or the benchmark's single metric, named
    by `metric`), and our strict metric(s) beside it by name (`{"strict": ...}`)."""

    ours: Getter | None
    metric: str = PAPER_METRIC
    strict: Mapping[str, Getter] = field(default_factory=dict)


@dataclass(frozen=True)
class TableSpec:
    """One table: our rows, the paper row each is compared with, and where each (row, column) cell comes from.

    `rows` maps our row label to the key `cell` receives (a model key, a setting, ...); `paper_rows` maps our row
    label to a selector of the paper's row (`seqit_utils.tables.paper_numbers`; a label without one has no paper
    numbers); `cell(key, column)` gives the `Measure` or None (no such cell). `columns` default to the paper table's.
    """

    name: str
    caption: str
    rows: Mapping[str, Any]
    paper_rows: Mapping[str, Selector]
    cell: Callable[[Any, str], Measure | None]
    scale: float | Mapping[str, float] = 100.0  # fraction -> percent; 1.0 for judge scores and token counts
    columns: tuple[str, ...] | None = None
    paper_id: str | None = None  # the paper's table id, default `name`
    version: str = DEFAULT_VERSION
    stub: str = "model"
    notes: tuple[str, ...] = ()  # how to read a metric, shown under the table

    def column_scale(self, column: str) -> float:
        """The factor from our metrics to the paper's units in `column`."""
        return self.scale if isinstance(self.scale, int | float) else self.scale.get(column, 100.0)


@dataclass(frozen=True)
class Line:
    """One (our row, paper column) cell: our value, the paper's number (and its printed text), strict values."""

    metric: str
    ours: float | None
    paper: float | None
    printed: str | None
    strict: Mapping[str, float | None]

    @property
    def delta(self) -> float | None:
        """ours − paper in the paper's units; None when either is missing."""
        return None if self.ours is None or self.paper is None else self.ours - self.paper


@dataclass(frozen=True)
class Table:
    """A built table: one `Line` per (row, column) that exists, in our row order and the paper's column order."""

    name: str
    caption: str
    stub: str
    lines: Mapping[tuple[str, str], Line]
    strict: tuple[str, ...]  # names of the strict value columns
    decimals: Mapping[str, int]
    legend: tuple[str, ...]  # which paper row each of our rows is compared with, and the paper's version/unit
    notes: tuple[str, ...] = ()

    @property
    def rows(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(row for row, _ in self.lines))

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(column for _, column in self.lines))

    def value(self, row: str, column: str, part: str = "ours") -> float | None:
        """One number: part `ours`, `paper`, `Δ` or a strict name; None when missing."""
        line = self.lines.get((row, column))
        if line is None:
            return None
        return {"ours": line.ours, "paper": line.paper, "Δ": line.delta}.get(part, line.strict.get(part))

    def headers(self) -> list[str]:
        """The long layout's header: stub, column, metric, ours, paper, Δ, then the strict columns."""
        return [self.stub, "column", "metric", "ours", "paper", "Δ", *self.strict]

    def cells(self, row: str, column: str, exact: bool = False) -> list[str]:
        """A line's cells as shown (rounded, Δ signed, "–" when missing), or with `exact` full precision and ""."""
        line = self.lines[(row, column)]
        numbers = [line.ours, line.paper, line.delta, *(line.strict.get(s) for s in self.strict)]
        texts = [self._text(v, column, signed=i == 2, exact=exact) for i, v in enumerate(numbers)]
        if line.printed is not None:
            texts[1] = line.printed  # the paper's number as printed (44.70 keeps its zero)
        return [row, column, line.metric, *texts]

    def _text(self, value: float | None, column: str, signed: bool, exact: bool) -> str:
        if value is None:
            return "" if exact else MISSING
        if exact:
            return f"{value:.12g}"  # .12g: drops 45.300000000000004
        decimals = self.decimals[column]
        value = round(value, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
        return f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}"


def lookup(metrics: Mapping[str, Any], path: str) -> Any:
    """The value at dotted `path` in nested mappings (None when absent); keys holding dots match longest first."""
    return _lookup(metrics, path.split("."))


def _lookup(node: Any, parts: list[str]) -> Any:
    if not parts:
        return node
    if not isinstance(node, Mapping):
        return None
    for k in range(len(parts), 0, -1):
        key = ".".join(parts[:k])
        if key in node and (found := _lookup(node[key], parts[k:])) is not None:
            return found
    return None


def as_number(value: Any, where: str) -> float | None:
    """A finite float, or None for a missing value; anything else is a wrong path."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: expected a number, got {type(value).__name__} (check the path)")
    return float(value) if math.isfinite(value) else None


def get(metrics: Mapping[str, Any], getter: Getter | None, where: str) -> float | None:
    """The number `getter` gives in `metrics` (None when missing)."""
    if getter is None:
        return None
    raw = getter(metrics) if callable(getter) else lookup(metrics, getter)
    return as_number(raw, f"{where} <- {getter!r}" if isinstance(getter, str) else where)


def build_table(spec: TableSpec, metrics: Mapping[str, Any]) -> Table:
    """Our values in the paper's units beside the paper's numbers; a line per (row, column) that has either."""
    paper = paper_table(spec.paper_id or spec.name, spec.version)
    columns = spec.columns or paper.columns
    for column in columns:
        paper.check_column(column)
    unknown = sorted(set(spec.paper_rows) - set(spec.rows))
    if unknown:
        raise ValueError(f"{spec.name}: paper_rows names rows {unknown} that are not rows: {', '.join(spec.rows)}")
    legend = []
    lines: dict[tuple[str, str], Line] = {}
    strict: dict[str, None] = {}
    for label, key in spec.rows.items():
        selector = spec.paper_rows.get(label)
        paper_row = None if selector is None else paper.row(selector)
        legend.append(f"{label} ↔ " + ("no paper row" if paper_row is None else f"paper row {paper_row.label()}"))
        for column in columns:
            measure = spec.cell(key, column)
            value = None if paper_row is None else paper_row.values[column]
            printed = None if paper_row is None else paper_row.printed[column]
            if measure is None and value is None:
                continue
            measure = measure or Measure(None, "not measured")
            scale, where = spec.column_scale(column), f"{spec.name} ({label}, {column})"
            ours = get(metrics, measure.ours, where)
            values = {name: get(metrics, g, f"{where} {name}") for name, g in measure.strict.items()}
            strict |= dict.fromkeys(measure.strict)
            lines[(label, column)] = Line(
                measure.metric,
                None if ours is None else ours * scale,
                value,
                printed,
                {name: None if v is None else v * scale for name, v in values.items()},
            )
    head = f"Paper: {paper.where}, unit {paper.unit}. Δ = ours − paper. `metric`: what ours is (`paper`: the authors' "
    head += "definition, issue 17; otherwise the benchmark's single metric)"
    head += "; `strict`: our strict metric beside it." if strict else "."
    legend.insert(0, head)
    decimals = {column: max(1, paper.decimals(column)) for column in columns}
    return Table(spec.name, spec.caption, spec.stub, lines, tuple(strict), decimals, (*legend, *spec.notes))


def to_markdown(table: Table) -> str:
    """Caption, a pipe table (numbers right-aligned), then the legend and notes."""

    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [f"**{esc(table.name)}**: {esc(table.caption)}", ""]
    lines.append("| " + " | ".join(esc(h) for h in table.headers()) + " |")
    lines.append("|---|---|---|" + "---:|" * (len(table.headers()) - 3))
    for row, column in table.lines:
        lines.append("| " + " | ".join(esc(c) for c in table.cells(row, column)) + " |")
    return "\n".join([*lines, "", *(f"- {esc(text)}" for text in (*table.legend, *table.notes))]) + "\n"


def to_csv(table: Table) -> str:
    """Tidy CSV: one header and one line per cell; full-precision numbers, the paper's as printed, "" when missing."""
    buffer = _io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.headers())
    for row, column in table.lines:
        writer.writerow(table.cells(row, column, exact=True))
    return buffer.getvalue()


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{"}
_LATEX |= {"}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "–": "--", "Δ": r"$\Delta$"}
_LATEX |= {"↔": r"$\leftrightarrow$", "−": "$-$", "·": r"$\cdot$"}


def latex_escape(text: str) -> str:
    """`text` with LaTeX's special characters escaped (and "–", "Δ", "↔", "−", "·" spelled for pdflatex)."""
    return "".join(_LATEX.get(char, char) for char in text)


def to_latex(table: Table) -> str:
    """A booktabs table (`\\toprule`, `\\midrule` between our rows, `\\bottomrule`); legend and notes follow the
    caption."""
    width = len(table.headers())
    lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{lll" + "r" * (width - 3) + "}", r"\toprule"]
    lines += [" & ".join(latex_escape(h) for h in table.headers()) + r" \\", r"\midrule"]
    previous = None
    for row, column in table.lines:
        if previous is not None and row != previous:
            lines.append(r"\midrule")
        cells = table.cells(row, column)
        numbers = [f"${c[0]}${c[1:]}" if c[:1] in ("+", "-") else latex_escape(c) for c in cells[3:]]  # math signs
        lines.append(" & ".join([*(latex_escape(c) for c in cells[:3]), *numbers]) + r" \\")
        previous = row
    caption = " ".join([table.caption, *table.legend, *table.notes])
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{latex_escape(caption)}}}"]
    return "\n".join(lines + [rf"\label{{tab:{table.name}}}", r"\end{table}"]) + "\n"


def load_metrics(metrics_dir: str | Path) -> dict[str, Any]:
    """`{stem: content}` of every `<metrics_dir>/*.json`, without their `provenance` blocks."""
    out = {}
    for file in sorted(Path(metrics_dir).glob("*.json")):
        content = json.loads(file.read_text(encoding="utf-8"))
        out[file.stem] = (
            {k: v for k, v in content.items() if k != "provenance"} if isinstance(content, dict) else content
        )
    return out


def write_table(table: Table, out_dir: str | Path, stem: str) -> list[Path]:
    """Atomically write `<stem>.md`, `<stem>.csv` and `<stem>.tex` into `out_dir`."""
    texts = {"md": to_markdown(table), "csv": to_csv(table), "tex": to_latex(table)}
    return [write_text(Path(out_dir) / f"{stem}.{ext}", text) for ext, text in texts.items()]
