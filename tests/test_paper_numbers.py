"""The paper's tables as data (`seqit_utils.tables.paper_numbers`): the package copy, numbers as printed, selectors
and the errors that name what exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqit_utils.tables import paper_numbers as pn

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "paper"
LLAMA_SIT = {"base_model": "Llama-3-8B", "method": "SIT"}


@pytest.mark.parametrize("file", sorted(pn.VERSIONS.values()))
def test_the_package_copy_is_the_shared_transcription(file):
    if not (SHARED / file).is_file():
        pytest.skip(f"{SHARED / file} not present (the package copy is the only one here)")
    assert (pn.PAPER_DIR / file).read_bytes() == (SHARED / file).read_bytes()


def test_both_versions_load_with_their_own_numbering():
    assert list(pn.paper_tables()) == [f"table_{n}" for n in range(1, 14)]
    assert list(pn.paper_tables("arxiv_v1")) == [f"table_{n}" for n in range(1, 7)]
    assert pn.paper_table("table_3", "arxiv_v1").columns == (
        "de",
        "zh",
        "ru",
        "es",
        "ar",
        "el",
        "vi",
        "hi",
        "tr",
        "th",
    )
    assert pn.list_columns("table_3") == ("vqav2", "gqa")  # NAACL's Table 3 is v1's Table 4


def test_values_are_as_printed_and_dashes_are_none():
    assert pn.paper_value("table_2", LLAMA_SIT, "avg_acc") == 44.7
    assert pn.paper_table("table_2").printed(LLAMA_SIT, "avg_acc") == "44.70"  # the trailing zero is kept
    assert (
        pn.paper_table("table_2").decimals("avg_acc") == 2 and pn.paper_table("table_1").decimals("follow_both") == 0
    )
    assert pn.paper_value("table_11", {"method": "IT", "prompt": "trans-CoT"}, "delta") == -0.2  # ↓ as a sign
    assert pn.paper_value("table_11", {"method": "IT", "prompt": "en-CoT"}, "delta") is None
    assert pn.paper_value("table_12", {"part": "main", "model": "Command-R"}, "win_vs_cmdr") is None


def test_selectors_match_fields_as_text_and_null_fields():
    selector = {"iteration": "2", "model": "GPT-3.5-Turbo"}
    assert pn.paper_value("table_13", selector, "score") == pn.paper_value(
        "table_13", {**selector, "iteration": 2}, "score"
    )
    assert (
        pn.paper_table("table_12").row({"part": "main", "method": None, "model": "Command-R"}).label()
        == "main · Command-R"
    )
    assert pn.list_rows("table_3") == [
        {"model": "InstructBLIP-Vicuna-7B", "method": m} for m in ("prompt", "IT", "SIT")
    ]
    assert pn.paper_table("table_6").row_fields() == ("ablation", "setting", "method")


def test_the_papers_own_cross_references_hold():
    # README "Cells that needed judgement": data-level IT and task-level SIT of Table 6 are Table 5's Alpaca rows;
    # Table 9's Llama-3-8B IT/SIT-M rows are Table 2's, Table 2 printing two decimals where Table 9 rounds to one.
    table_5, table_6 = pn.paper_table("table_5"), pn.paper_table("table_6")
    for method, setting in (("IT", "data-level"), ("SIT", "task-level")):
        assert (
            table_6.row({"setting": setting, "method": method}).values
            == table_5.row({"dataset": "Alpaca", "method": method}).values
        )
    for method, m in (("IT", "IT"), ("SIT", "SIT-M")):
        two = pn.paper_table("table_2").row({"base_model": "Llama-3-8B", "method": method}).values
        nine = pn.paper_table("table_9").row({"base_model": "Llama-3-8B", "dataset": "Alpaca", "method": m}).values
        assert all(two[lang] == nine[f"{lang}_acc"] for lang in ("de", "zh", "ru", "es", "ar", "el", "vi", "hi", "tr"))
        assert round(two["avg_acc"], 1) == nine["avg_acc"] and two["follow"] == nine["avg_follow"]


def test_errors_name_the_table_and_what_exists():
    with pytest.raises(ValueError, match="naacl2025: no table 'table_14'; tables: table_1, .*, table_13$"):
        pn.paper_table("table_14")
    with pytest.raises(ValueError, match="paper version 'v3' does not exist; versions: naacl2025, arxiv_v1"):
        pn.paper_table("table_1", "v3")
    with pytest.raises(
        ValueError,
        match=r"naacl2025 table_2: row selector fields \['model'\] do not exist; fields: base_model, dataset, method",
    ):
        pn.paper_value("table_2", {"model": "Llama-3-8B"}, "de")
    with pytest.raises(
        ValueError,
        match=r"naacl2025 table_2: 2 rows match \{method: SIT\}; add fields to pick one: \{base_model: Mistral-7B",
    ):
        pn.paper_value("table_2", {"method": "SIT"}, "de")
    with pytest.raises(
        ValueError,
        match=r"naacl2025 table_5: no row matches \{dataset: Dolly\}; rows: \{base_model: Llama-3-8B, ",
    ):
        pn.paper_value("table_5", {"dataset": "Dolly"}, "mmlu")
    with pytest.raises(ValueError, match="naacl2025 table_5: no column 'MMLU'; columns: mmlu, arc, gsm8k"):
        pn.paper_value("table_5", {"dataset": "Alpaca", "method": "IT"}, "MMLU")


def test_a_row_without_all_columns_is_rejected_with_file_table_and_row(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(
        "tables:\n  - id: table_1\n    columns: [a, b]\n    rows:\n      - {model: X, values: {a: 1.0}}\n",
        encoding="utf-8",
    )
    with pytest.raises(
        ValueError,
        match=r"broken.yaml: tables\[0\] \(table_1\) row 0: values \['a'\] are not the columns \['a', 'b'\]",
    ):
        pn.load_file(path, "test")
