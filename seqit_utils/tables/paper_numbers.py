"""The paper's results tables as data: a typed reader of `seqit_utils/paper/*.yaml` (schema: paper/README.md).

Two versions of the paper number their tables differently: `naacl2025` (the final NAACL 2025 version, tables 1-13;
the default) and `arxiv_v1` (arXiv 2403.07794v1, tables 1-6). A row is picked by a selector, a mapping of some of its
identifying fields (`{"base_model": "Llama-3-8B", "method": "SIT"}`) that must match exactly one row. Values are the
numbers as printed (None for a dash); `printed` gives their text, trailing zeros kept (`44.70`).

This is the only source of the paper's numbers in seqit: the result tables (`seqit_utils.tables.layout`) read them
from here.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PAPER_DIR = Path(__file__).parents[1] / "paper"
VERSIONS = {"naacl2025": "naacl2025_tables.yaml", "arxiv_v1": "arxiv_v1_tables.yaml"}
DEFAULT_VERSION = "naacl2025"
Selector = Mapping[str, Any]


@dataclass(frozen=True)
class PaperRow:
    """One printed row: its identifying fields, its values (None: a dash) and their printed text."""

    fields: Mapping[str, Any]
    values: Mapping[str, float | None]
    printed: Mapping[str, str | None]

    def label(self) -> str:
        """The row's non-empty fields in print order, e.g. `Llama-3-8B · Alpaca · SIT`."""
        return " · ".join(str(v) for v in self.fields.values() if v is not None)

    def matches(self, selector: Selector) -> bool:
        """Every selector field equals the row's (compared as text, so `iteration: "1"` matches 1)."""
        return all(_same(self.fields.get(key), wanted) for key, wanted in selector.items())


@dataclass(frozen=True)
class PaperTable:
    """One results table of one paper version, as printed."""

    id: str
    version: str
    caption: str
    metric: str
    unit: str
    columns: tuple[str, ...]
    rows: tuple[PaperRow, ...]
    column_groups: Mapping[str, list[str]]
    column_notes: Mapping[str, str]
    notes: str

    @property
    def where(self) -> str:
        """`naacl2025 table_2`: how errors and notes name the table."""
        return f"{self.version} {self.id}"

    def row_fields(self) -> tuple[str, ...]:
        """The identifying fields of the table's rows, in print order."""
        return tuple(dict.fromkeys(key for row in self.rows for key in row.fields))

    def row(self, selector: Selector) -> PaperRow:
        """The one row `selector` picks; ValueError naming the table, the selector and the rows there are."""
        unknown = sorted(set(selector) - set(self.row_fields()))
        if unknown:
            raise ValueError(
                f"{self.where}: row selector fields {unknown} do not exist; fields: {', '.join(self.row_fields())}"
            )
        found = [row for row in self.rows if row.matches(selector)]
        if len(found) == 1:
            return found[0]
        listed = "; ".join(_describe(row.fields) for row in (found or self.rows))
        if not found:
            raise ValueError(f"{self.where}: no row matches {_describe(selector)}; rows: {listed}")
        raise ValueError(
            f"{self.where}: {len(found)} rows match {_describe(selector)}; add fields to pick one: {listed}"
        )

    def check_column(self, column: str) -> None:
        """ValueError naming the table and its columns when `column` is not one of them."""
        if column not in self.columns:
            raise ValueError(f"{self.where}: no column {column!r}; columns: {', '.join(self.columns)}")

    def value(self, selector: Selector, column: str) -> float | None:
        """The number printed in `column` of the row `selector` picks (None: a dash)."""
        self.check_column(column)
        return self.row(selector).values[column]

    def printed(self, selector: Selector, column: str) -> str | None:
        """The cell's text as printed (`44.70`), None for a dash."""
        self.check_column(column)
        return self.row(selector).printed[column]

    def decimals(self, column: str) -> int:
        """The most decimals printed in `column` (0 for whole numbers)."""
        self.check_column(column)
        texts = [row.printed[column] for row in self.rows if row.printed[column] is not None]
        return max((len(t.partition(".")[2]) for t in texts), default=0)


def paper_tables(version: str = DEFAULT_VERSION) -> dict[str, PaperTable]:
    """Every table of one paper version by id (`table_1` ...)."""
    if version not in VERSIONS:
        raise ValueError(f"paper version {version!r} does not exist; versions: {', '.join(VERSIONS)}")
    return dict(load_file(PAPER_DIR / VERSIONS[version], version))


def paper_table(table_id: str, version: str = DEFAULT_VERSION) -> PaperTable:
    """One table; ValueError naming the version and the tables it has when `table_id` is not one of them."""
    tables = paper_tables(version)
    if table_id not in tables:
        raise ValueError(f"{version}: no table {table_id!r}; tables: {', '.join(tables)}")
    return tables[table_id]


def paper_value(table_id: str, row_selector: Selector, column: str, version: str = DEFAULT_VERSION) -> float | None:
    """The paper's number in (`table_id`, the row `row_selector` picks, `column`), as printed; None for a dash."""
    return paper_table(table_id, version).value(row_selector, column)


def list_rows(table_id: str, version: str = DEFAULT_VERSION) -> list[dict[str, Any]]:
    """The identifying fields of every row of a table, in print order (what selectors can pick)."""
    return [dict(row.fields) for row in paper_table(table_id, version).rows]


def list_columns(table_id: str, version: str = DEFAULT_VERSION) -> tuple[str, ...]:
    """A table's columns in print order."""
    return paper_table(table_id, version).columns


@functools.cache
def load_file(path: Path, version: str) -> tuple[tuple[str, PaperTable], ...]:
    """`(id, table)` pairs of one YAML file in the schema of paper/README.md; ValueError naming the file, table and
    row whose values are not exactly the table's columns or not numbers."""
    text = path.read_text(encoding="utf-8")
    data, tree = yaml.safe_load(text), yaml.compose(text)
    node_tables = _child(tree, "tables").value
    out = []
    for index, (table, node) in enumerate(zip(data["tables"], node_tables, strict=True)):
        where = f"{path.name}: tables[{index}] ({table.get('id')})"
        columns = tuple(table["columns"])
        rows = []
        for number, (row, row_node) in enumerate(zip(table["rows"], _child(node, "rows").value, strict=True)):
            values = row.get("values") or {}
            if set(values) != set(columns):
                raise ValueError(f"{where} row {number}: values {sorted(values)} are not the columns {list(columns)}")
            texts = {_scalar(k): v for k, v in _child(row_node, "values").value}
            printed = {c: None if values[c] is None else _scalar(texts[c]) for c in columns}
            fields = {k: v for k, v in row.items() if k != "values"}
            numbers = {c: _number(values[c], f"{where} row {number} {c}") for c in columns}
            rows.append(PaperRow(fields, numbers, printed))
        out.append(
            PaperTable(
                table["id"], version, table.get("caption", ""), table.get("metric", ""), str(table.get("unit", "")),
                columns, tuple(rows), table.get("column_groups") or {}, table.get("column_notes") or {},
                table.get("notes") or "",
            )
        )  # fmt: skip
    return tuple((t.id, t) for t in out)


def _child(node: yaml.Node, key: str) -> yaml.Node:
    return next(v for k, v in node.value if k.value == key)


def _scalar(node: yaml.Node) -> str:
    return node.value


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: {value!r} is not a number")
    return float(value)


def _same(field: Any, wanted: Any) -> bool:
    return field is None and wanted is None or (field is not None and wanted is not None and str(field) == str(wanted))


def _describe(fields: Selector) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}"
