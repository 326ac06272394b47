"""Result tables: metrics paths, paper columns and Δ, exact renderings, paper_numbers.yaml, atomic writes."""

from __future__ import annotations

import pytest

from seqit_utils import io
from seqit_utils.tables import layout as tables
from seqit_utils.tables import paper_tables
from seqit_utils.tables.layout import PERCENT, SCORE, TableSpec, build_table, to_csv, to_latex, to_markdown

SPEC = TableSpec(
    name="table_x",
    caption="Toy 50% table_x.",
    rows=("IT", "SIT"),
    columns=("acc_all", "score"),
    cell={"acc_all": "bench.{row}.all.accuracy", "score": "bench.{row}.all.score"},
    row_keys={"IT": "it", "SIT": "sit"},
    formats={"acc_all": PERCENT, "score": SCORE},
)
METRICS = {
    "bench": {
        "it": {"all": {"accuracy": 0.4567, "score": 3.5}},
        "sit": {"all": {"accuracy": 0.5, "score": None}},  # None: not measured
    }
}
REFERENCE = {
    "source": "Table X of the toy paper",
    "rows": {"IT": {"acc_all": 44.0, "score": 3.75}, "SIT": {"acc_all": "52.5"}},  # SIT score not transcribed
}


def test_markdown_with_reference_is_exact():
    expected = (
        "**table_x**: Toy 50% table_x.\n"
        "\n"
        "| model | acc_all ours | acc_all paper | acc_all Δ | score ours | score paper | score Δ |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n"
        "| IT | 45.7 | 44.0 | +1.7 | 3.50 | 3.75 | -0.25 |\n"
        "| SIT | 50.0 | 52.5 | -2.5 | – | – | – |\n"
        "\n"
        "Paper numbers: Table X of the toy paper.\n"
    )
    assert to_markdown(build_table(SPEC, METRICS, REFERENCE)) == expected


def test_csv_has_unrounded_numbers_and_empty_missing_cells():
    expected = (
        "model,acc_all ours,acc_all paper,acc_all Δ,score ours,score paper,score Δ\n"
        "IT,45.67,44,1.67,3.5,3.75,-0.25\n"
        "SIT,50,52.5,-2.5,,,\n"
    )
    assert to_csv(build_table(SPEC, METRICS, REFERENCE)) == expected


def test_latex_is_booktabs_with_escapes_and_math_signs():
    expected = r"""\begin{table}[t]
\centering
\begin{tabular}{lrrrrrr}
\toprule
 & \multicolumn{3}{c}{acc\_all} & \multicolumn{3}{c}{score} \\
\cmidrule(lr){2-4} \cmidrule(lr){5-7}
model & ours & paper & $\Delta$ & ours & paper & $\Delta$ \\
\midrule
IT & 45.7 & 44.0 & $+$1.7 & 3.50 & 3.75 & $-$0.25 \\
SIT & 50.0 & 52.5 & $-$2.5 & -- & -- & -- \\
\bottomrule
\end{tabular}
\caption{Toy 50\% table\_x. Paper numbers: Table X of the toy paper.}
\label{tab:table_x}
\end{table}
"""
    assert to_latex(build_table(SPEC, METRICS, REFERENCE)) == expected


def test_delta_is_ours_minus_paper_in_the_papers_units():
    table = build_table(SPEC, METRICS, REFERENCE)
    assert table.value("IT", "acc_all") == pytest.approx(45.67)  # fraction 0.4567 shown in percent
    assert table.value("IT", "acc_all", "Δ") == pytest.approx(45.67 - 44.0)
    assert table.value("IT", "score", "Δ") == pytest.approx(3.5 - 3.75)  # SCORE: no scaling
    assert table.value("SIT", "acc_all", "Δ") == pytest.approx(-2.5)
    # Missing on either side: no Δ, never a 0 standing in for it.
    assert table.value("SIT", "score", "ours") is None
    assert table.value("SIT", "score", "paper") is None
    assert table.value("SIT", "score", "Δ") is None


def test_missing_ours_with_paper_present_shows_dash_and_no_delta():
    metrics = {"bench": {"it": {"all": {"accuracy": 0.4567}}}}  # no SIT model, no IT score
    table = build_table(SPEC, metrics, REFERENCE)
    assert table.text("SIT", "acc_all", "paper") == "52.5"
    assert table.text("SIT", "acc_all", "ours") == "–"
    assert table.text("IT", "score", "Δ") == "–"
    assert "| SIT | – | 52.5 | – | – | – | – |" in to_markdown(table)
    assert to_csv(table).splitlines()[2] == "SIT,,52.5,,,,"


def test_without_reference_no_paper_columns_and_a_note():
    table = build_table(SPEC, METRICS, None)
    assert table.parts == ("ours",)
    markdown = to_markdown(table)
    assert markdown.splitlines()[2:6] == [
        "| model | acc_all | score |",
        "|---|---:|---:|",
        "| IT | 45.7 | 3.50 |",
        "| SIT | 50.0 | – |",
    ]
    assert "paper numbers not transcribed" in markdown.lower()
    assert "paper" not in to_csv(table)
    latex = to_latex(table)
    assert "model & acc\\_all & score \\\\" in latex and "multicolumn" not in latex
    assert "not transcribed" in latex.split("\\caption{")[1]


def test_latex_escape_special_characters():
    assert tables.latex_escape("a_b 50% & $x# {y} ~^\\") == (
        r"a\_b 50\% \& \$x\# \{y\} \textasciitilde{}\textasciicircum{}\textbackslash{}"
    )
    assert tables.latex_escape("1–5, Δ") == r"1--5, $\Delta$"


def test_lookup_dotted_paths_including_keys_with_dots():
    metrics = {"miniature": {"two_step_seen.sit": {"accuracy": 0.55}}, "xquad": {"sit": {"de": {"accuracy": 0.6}}}}
    assert tables.lookup(metrics, "miniature.two_step_seen.sit.accuracy") == 0.55
    assert tables.lookup(metrics, "xquad.sit.de.accuracy") == 0.6
    assert tables.lookup(metrics, "xquad.sit.zh.accuracy") is None
    assert tables.lookup(metrics, "xquad.sit.de.accuracy.more") is None


def test_a_path_to_a_non_number_is_an_error_not_a_dash():
    spec = TableSpec("t", "c", ("IT",), ("de",), "xquad.{row}.{column}", row_keys={"IT": "sit"})
    with pytest.raises(ValueError, match=r"xquad\.sit\.de"):
        build_table(spec, {"xquad": {"sit": {"de": {"accuracy": 0.6}}}})


def test_reference_strings_are_read_exactly_or_rejected():
    spec = TableSpec("t", "c", ("IT",), ("de",), "x.{row}.{column}")
    table = build_table(spec, {"x": {"IT": {"de": 0.1}}}, {"rows": {"IT": {"de": "−1.5"}}})  # the PDF's minus
    assert table.value("IT", "de", "paper") == -1.5
    with pytest.raises(ValueError, match="not a number"):
        build_table(spec, {}, {"rows": {"IT": {"de": "45.3†"}}})


def test_reference_labels_outside_the_layout_are_reported():
    table = build_table(SPEC, METRICS, {"rows": {"IT": {"acc_all": 44.0, "MMLU": 1.0}, "Llama / SIT": {}}})
    assert table.notes == ("Paper labels not in this table's layout: Llama / SIT, MMLU.",)


def test_load_reference_on_the_real_file_returns_none_for_untranscribed_tables():
    assert tables.PAPER_NUMBERS.is_file()
    for name in paper_tables.SPECS:
        if tables.load_reference(name) is None:
            table = paper_tables.paper_table(name, {})
            assert table.parts == ("ours",) and "not transcribed" in table.notes[0]
    assert tables.load_reference("table_1") is None  # listed under missing: in the shipped file
    assert tables.load_reference("table_999") is None  # absent


def test_load_reference_on_a_filled_file(tmp_path):
    path = tmp_path / "paper_numbers.yaml"
    path.write_text(
        "table_13:\n"
        "  source: v3\n"
        "  rows:\n"
        "    2: {IT follow: 40.0, SIT score: 3.1}\n"  # YAML reads `2:` as an int; row labels are strings
        "missing:\n"
        "  - {table: table_5, reason: not reachable}\n",
        encoding="utf-8",
    )
    reference = tables.load_reference("table_13", path)
    assert reference == {"source": "v3", "rows": {2: {"IT follow": 40.0, "SIT score": 3.1}}}
    assert tables.load_reference("table_5", path) is None
    # notebook 04's layout: by_iteration.<group>.<seed>.<iteration>; iteration 1 = 2 tasks, means over seeds
    judged = lambda follow, score: {"1": {"follow_rate": follow, "score": score, "n": 4}}  # noqa: E731
    by_iteration = {"it": {"0": judged(0.4, 2.0), "1": judged(0.5, 2.0)}, "sit": {"0": judged(0.9, 3.0)}}
    table = paper_tables.paper_table("table_13", {"seqeval": {"by_iteration": by_iteration}}, path=path)
    assert table.value("2", "IT follow") == pytest.approx(45.0)
    assert table.value("2", "IT follow", "Δ") == pytest.approx(5.0)
    assert table.value("2", "SIT score", "Δ") == pytest.approx(-0.1)
    assert table.value("3", "IT follow") is None and table.value("3", "IT follow", "paper") is None


def test_load_reference_rejects_a_table_both_transcribed_and_missing(tmp_path):
    path = tmp_path / "paper_numbers.yaml"
    path.write_text("table_5:\n  rows: {}\nmissing:\n  - {table: table_5}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="also listed under missing"):
        tables.load_reference("table_5", path)


def test_write_table_writes_three_files_atomically(tmp_path):
    table = build_table(SPEC, METRICS, REFERENCE)
    written = tables.write_table(table, tmp_path / "tables", "table_x")
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == ["table_x.csv", "table_x.md", "table_x.tex"]
    assert {p.suffix: p.read_text(encoding="utf-8") for p in written} == {
        ".md": to_markdown(table),
        ".csv": to_csv(table),
        ".tex": to_latex(table),
    }


def test_load_metrics_keys_files_by_stem_without_provenance(tmp_path):
    io.write_json(tmp_path / "xquad.json", {"sit": {"de": {"accuracy": 0.6}}, "provenance": {"seeds": [0]}})
    (tmp_path / "notes.txt").write_text("not metrics", encoding="utf-8")
    assert tables.load_metrics(tmp_path) == {"xquad": {"sit": {"de": {"accuracy": 0.6}}}}


def test_xquad_summary_means_only_complete_language_groups():
    seen = {lang: {"accuracy": acc} for lang, acc in zip(paper_tables.XQUAD_SEEN, (0.4, 0.5, 0.6, 0.7), strict=True)}
    metrics = {"xquad": {"sit": {**seen, "en": {"accuracy": 0.9}, "ar": {"accuracy": 0.3}}}}
    table = paper_tables.paper_table("table_2", metrics)
    assert table.value("SIT", "seen") == pytest.approx(55.0)
    assert table.value("SIT", "en") == pytest.approx(90.0)
    assert table.value("SIT", "unseen") is None  # only ar of six: no partial mean
    assert table.value("IT", "seen") is None


def test_every_paper_spec_reads_the_documented_paths():
    metrics = {
        "mmlu": {"sit": {"all": {"accuracy": 0.61}}},
        "humaneval": {"sit": {"all": {"pass@1": 0.25}}},
        "mgsm": {"sit": {"en-cot/all": {"accuracy": 0.4}, "trans-cot/de": {"accuracy": 0.3}}},
        "csqa": {"it": {"single": {"accuracy": 0.7}}, "sit": {"paraphrase": {"follow_rate": 0.8}}},
        "xquad": {"it": {"th": {"accuracy": 0.2}}},
    }
    assert paper_tables.paper_table("table_5", metrics).value("SIT", "MMLU") == pytest.approx(61.0)
    assert paper_tables.paper_table("table_5", metrics).value("SIT", "HumanEval") == pytest.approx(25.0)
    assert paper_tables.paper_table("table_5", metrics).value("SIT", "MGSM") == pytest.approx(40.0)
    assert paper_tables.paper_table("table_10", metrics).value("SIT trans-CoT", "de") == pytest.approx(30.0)
    assert paper_tables.paper_table("table_7", metrics).value("IT", "non-seq. acc.") == pytest.approx(70.0)
    assert paper_tables.paper_table("table_8", metrics).value("SIT", "paraphrase follow") == pytest.approx(80.0)
    assert paper_tables.paper_table("table_9", metrics).value("IT", "th") == pytest.approx(20.0)
    for name, spec in paper_tables.SPECS.items():  # every layout renders from no metrics at all: all dashes
        table = build_table(spec, {})
        assert all(table.value(r, c) is None for r in table.rows for c in table.columns), name
        assert to_markdown(table) and to_csv(table) and to_latex(table)
