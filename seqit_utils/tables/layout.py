"""The paper's result tables from our metrics files: one declarative spec per table, three renderers.

Metrics path convention. Evaluation code writes `outputs/<profile>/metrics/<benchmark>.json` (via
`io.write_metrics`) as `{model: {setting: {metric: value}}}`; `load_metrics` maps each file's stem to its content, so
a cell's dotted path is `<benchmark>.<model>.<setting>.<metric>`, e.g. `xquad.sit.de.accuracy`.
- benchmark: file stem, lower case (`mmlu`, `arc`, `gsm8k`, `humaneval`, `alpaca_eval`, `xquad`, `mgsm`, `csqa`,
  `seqeval`).
- model: the fine-tuned model's key (`it`, `sit`, or e.g. `llama3-8b-alpaca-sit` for several base models / data).
- setting: the evaluation subset: a language (`de`), `all` for the whole benchmark (or the mean over its
  languages), a CSQA condition (`single`, `repeat`, `paraphrase`), `en-cot/<lang>` / `trans-cot/<lang>` for MGSM,
  `tasks_<n>` for SeqEval by number of tasks.
- metric: `accuracy`, `pass@1`, `win_rate`, `follow_rate` (the mean of the per-item `followed` of
  `seqit_utils.evaluate.scoring`), `score` (judge quality, 1–5). Rates are fractions in [0, 1]; a table's `Format`
  scales them.
A key that itself holds dots (`two_step_seen.sit` in miniature.json) still resolves: `lookup` tries the longest key
first. A missing key or a None value is a missing cell, shown as "–", never 0. Files of another shape are read with
a callable cell, `(metrics) -> float | None`.

The paper's numbers come from `templates/paper_numbers.yaml` (`<table>: {rows: {row label: {column label: number as
printed}}}`); with them each column gets "paper" and "Δ" (ours − paper, in the paper's units) beside "ours".
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

import yaml

from seqit_utils.io import write_text

PAPER_NUMBERS = Path(__file__).parents[1] / "templates" / "paper_numbers.yaml"
MISSING = "–"
NOT_TRANSCRIBED = "Paper numbers not transcribed"
Getter = str | Callable[[Mapping[str, Any]], float | None]  # a dotted path, or a function of the metrics mapping


@dataclass(frozen=True)
class Format:
    """How a column's numbers are shown: `scale` takes our value to the paper's units (100: fraction → percent)."""

    scale: float = 100.0
    decimals: int = 1


PERCENT = Format(100.0, 1)
SCORE = Format(1.0, 2)


@dataclass(frozen=True)
class TableSpec:
    """One table's layout and where each cell's value comes from.

    `cell` is a path template formatted with `row=<row key>, column=<column key>` (keys default to the labels and may
    be tuples: `{row[0]}`), a mapping column label → template, or a function `(row key, column key) -> Getter | None`
    (None: the cell does not exist). Row and column labels are those of paper_numbers.yaml.
    """

    name: str
    caption: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cell: str | Mapping[str, str] | Callable[[Any, Any], Getter | None]
    row_keys: Mapping[str, Any] = field(default_factory=dict)
    column_keys: Mapping[str, Any] = field(default_factory=dict)
    formats: Format | Mapping[str, Format] = PERCENT
    stub: str = "model"

    def getter(self, row: str, column: str) -> Getter | None:
        """Where the value of cell (row label, column label) comes from."""
        keys = {"row": self.row_keys.get(row, row), "column": self.column_keys.get(column, column)}
        if callable(self.cell):
            return self.cell(keys["row"], keys["column"])
        template = self.cell if isinstance(self.cell, str) else self.cell.get(column)
        return None if template is None else template.format(**keys)

    def format(self, column: str) -> Format:
        """The column's number format."""
        return self.formats if isinstance(self.formats, Format) else self.formats.get(column, PERCENT)


@dataclass(frozen=True)
class Table:
    """A built table: values (in the paper's units) per (row, column, part), part ∈ `parts`."""

    name: str
    caption: str
    stub: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    parts: tuple[str, ...]  # ("ours",) or ("ours", "paper", "Δ")
    values: Mapping[tuple[str, str, str], float | None]
    decimals: Mapping[str, int]
    notes: tuple[str, ...] = ()

    def value(self, row: str, column: str, part: str = "ours") -> float | None:
        """The value of one cell (None when missing)."""
        return self.values.get((row, column, part))

    def headers(self) -> list[str]:
        """One flat header per value column: `MMLU`, or `MMLU ours`, `MMLU paper`, `MMLU Δ`."""
        return [
            column if self.parts == ("ours",) else f"{column} {part}" for column in self.columns for part in self.parts
        ]

    def text(self, row: str, column: str, part: str) -> str:
        """The cell as shown: rounded to the column's decimals, Δ signed, "–" when missing."""
        value = self.value(row, column, part)
        if value is None:
            return MISSING
        decimals = self.decimals[column]
        value = round(value, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
        return f"{value:+.{decimals}f}" if part == "Δ" else f"{value:.{decimals}f}"


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
    """A finite float, or None for a missing value; anything else is a wrong path or a bad transcription."""
    if value is None or (isinstance(value, str) and value.strip() in {"", "-", MISSING, "—"}):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip().replace("−", "-"))  # the PDF's minus sign
        except ValueError:
            raise ValueError(
                f"{where}: {value!r} is not a number; transcribe the number exactly or leave it out"
            ) from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: expected a number, got {type(value).__name__} (check the path)")
    return float(value) if math.isfinite(value) else None


def build_table(spec: TableSpec, metrics: Mapping[str, Any], reference: Mapping[str, Any] | None = None) -> Table:
    """Our values (scaled by each column's `Format`), and with `reference` the paper's numbers and Δ = ours − paper."""
    values: dict[tuple[str, str, str], float | None] = {}
    for row in spec.rows:
        for column in spec.columns:
            getter = spec.getter(row, column)
            raw = None if getter is None else getter(metrics) if callable(getter) else lookup(metrics, getter)
            ours = as_number(raw, f"{spec.name} ({row}, {column}) <- {getter!r}")
            values[(row, column, "ours")] = None if ours is None else ours * spec.format(column).scale
    notes: list[str] = []
    if reference is None:
        parts: tuple[str, ...] = ("ours",)
        notes.append(f"{NOT_TRANSCRIBED} ({spec.name}: see seqit_utils/templates/paper_numbers.yaml).")
    else:
        parts = ("ours", "paper", "Δ")
        given = reference.get("rows") or {}
        if not isinstance(given, Mapping) or not all(isinstance(r, Mapping) for r in given.values()):
            raise ValueError(f"{spec.name}: reference 'rows' must map row label -> {{column label: number}}")
        rows = {str(r): {str(c): v for c, v in cells.items()} for r, cells in given.items()}  # YAML: `1:` is an int
        for row in spec.rows:
            for column in spec.columns:
                paper = as_number(rows.get(row, {}).get(column), f"paper_numbers.yaml {spec.name} ({row}, {column})")
                ours = values[(row, column, "ours")]
                values[(row, column, "paper")] = paper
                values[(row, column, "Δ")] = None if ours is None or paper is None else ours - paper
        unused = [r for r in rows if r not in spec.rows]
        unused += sorted({c for r in rows.values() for c in r if c not in spec.columns})
        if unused:
            notes.append(f"Paper labels not in this table's layout: {', '.join(map(str, unused))}.")
        if reference.get("source"):
            notes.append(f"Paper numbers: {reference['source']}.")
    decimals = {column: spec.format(column).decimals for column in spec.columns}
    return Table(spec.name, spec.caption, spec.stub, spec.rows, spec.columns, parts, values, decimals, tuple(notes))


def to_markdown(table: Table) -> str:
    """Caption, a pipe table (numbers right-aligned), then the notes."""

    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [f"**{esc(table.name)}**: {esc(table.caption)}", ""]
    lines.append("| " + " | ".join(esc(h) for h in [table.stub, *table.headers()]) + " |")
    lines.append("|---|" + "---:|" * (len(table.columns) * len(table.parts)))
    for row in table.rows:
        cells = [table.text(row, column, part) for column in table.columns for part in table.parts]
        lines.append("| " + " | ".join([esc(row), *cells]) + " |")
    return "\n".join(lines + ([""] + list(table.notes) if table.notes else [])) + "\n"


def to_csv(table: Table) -> str:
    """One header row and one row per table row; full-precision numbers in the paper's units, empty when missing."""
    buffer = _io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([table.stub, *table.headers()])
    for row in table.rows:
        values = [table.value(row, column, part) for column in table.columns for part in table.parts]
        writer.writerow([row, *("" if v is None else f"{v:.12g}" for v in values)])  # .12g: drops 45.300000000000004
    return buffer.getvalue()


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{"}
_LATEX |= {"}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "–": "--", "Δ": r"$\Delta$"}


def latex_escape(text: str) -> str:
    """`text` with LaTeX's special characters escaped (and "–", "Δ" spelled for pdflatex)."""
    return "".join(_LATEX.get(char, char) for char in text)


def to_latex(table: Table) -> str:
    """A booktabs table (`\\toprule`, `\\cmidrule`, `\\midrule`, `\\bottomrule`); notes follow the caption."""
    span = len(table.parts)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\begin{tabular}{l" + "r" * span * len(table.columns) + "}",
        r"\toprule",
    ]
    if span == 1:
        lines.append(" & ".join(latex_escape(h) for h in [table.stub, *table.columns]) + r" \\")
    else:
        groups = [rf"\multicolumn{{{span}}}{{c}}{{{latex_escape(c)}}}" for c in table.columns]
        lines.append(" & ".join(["", *groups]) + r" \\")
        rules = [rf"\cmidrule(lr){{{2 + i * span}-{1 + (i + 1) * span}}}" for i in range(len(table.columns))]
        lines.append(" ".join(rules))
        lines.append(" & ".join(latex_escape(h) for h in [table.stub, *table.parts * len(table.columns)]) + r" \\")
    lines.append(r"\midrule")
    for row in table.rows:
        cells = [table.text(row, column, part) for column in table.columns for part in table.parts]
        cells = [f"${c[0]}${c[1:]}" if c[0] in "+-" else latex_escape(c) for c in cells]  # math-mode signs
        lines.append(" & ".join([latex_escape(row), *cells]) + r" \\")
    caption = " ".join([table.caption, *table.notes])
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{latex_escape(caption)}}}"]
    return "\n".join(lines + [rf"\label{{tab:{table.name}}}", r"\end{table}"]) + "\n"


def load_reference(name: str, path: str | Path | None = None) -> dict[str, Any] | None:
    """The paper's numbers for table `name` from paper_numbers.yaml; None when absent or listed under `missing:`.

    A `missing:` entry with a `cells` key marks single cells (the table's other numbers are returned); a table both
    transcribed and listed as missing whole is a contradiction and raises ValueError.
    """
    path = Path(path) if path is not None else PAPER_NUMBERS
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    missing = {entry.get("table") for entry in data.get("missing") or [] if "cells" not in entry}
    table = data.get(name)
    if name in missing and table is not None:
        raise ValueError(f"{path}: {name} is transcribed and also listed under missing:; remove one of the two")
    if table is None or name in missing:
        return None
    if not isinstance(table, Mapping):
        raise ValueError(f"{path}: {name} must be a mapping with 'rows' (and 'source', 'caption')")
    return dict(table)


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
