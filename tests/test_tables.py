"""Result tables: the paper's numbers beside ours (paper column as printed, Δ = ours − paper), both metrics, the
row mapping, exact renderings, notes, atomic writes."""

from __future__ import annotations

import csv
import io as _io

import pytest

from seqit_utils import io
from seqit_utils.tables import layout, paper_rows, paper_tables, specs, study_specs
from seqit_utils.tables.layout import Measure, TableSpec, build_table, to_csv, to_latex, to_markdown
from seqit_utils.tables.paper_numbers import paper_table, paper_value

LANGS = specs.XQUAD_LANGS


def xquad_metrics(offset: float) -> dict[str, dict[str, float]]:
    """Ten languages with distinct values for every key the evaluation writes (fractions in [0, 1])."""
    out = {}
    for i, lang in enumerate(LANGS):
        acc = offset + 0.01 * i
        out[lang] = {
            "paper_accuracy": acc,
            "paper_follow_rate": acc + 0.2,
            "strict_accuracy": acc - 0.05,
            "strict_exact_match": acc - 0.1,
            "strict_f1": acc - 0.02,
            "strict_exact_match_native": acc - 0.2,
            "strict_f1_native": acc - 0.15,
            "strict_follow_rate": acc + 0.1,
        }
    return out


METRICS = {
    "xquad": {"it": xquad_metrics(0.30), "sit": xquad_metrics(0.42)},
    "mgsm": {
        "it": {"trans-cot/all": {"paper_accuracy": 0.171, "strict_accuracy": 0.15}},
        "sit": {"trans-cot/all": {"paper_accuracy": 0.301, "strict_accuracy": 0.28}},
    },
    "mmlu": {"it": {"all": {"accuracy": 0.55}}, "sit": {"all": {"accuracy": 0.6}}},
    "arc_challenge": {"it": {"all": {"accuracy": 0.5}}, "sit": {"all": {"accuracy": 0.51}}},
    "gsm8k": {"it": {"all": {"accuracy": 0.2}}, "sit": {"all": {"accuracy": 0.33}}},
    "humaneval": {"it": {"all": {"pass@1": 0.3, "pass@10": 0.5}}, "sit": {"all": {"pass@1": 0.31, "pass@10": 0.55}}},
    "alpaca_eval": {"it": {"all": {"win_rate": 0.08}}, "sit": {"all": {"win_rate": 0.14}}},
    "seqeval": {"mean": {"it": {"score": 4.0}, "sit": {"score": 4.5, "win_rate": 0.52}}},
}


def parse_markdown(text: str) -> list[dict[str, str]]:
    """The pipe table of a rendered table as dicts keyed by header."""
    rows = [line.strip("|").split(" | ") for line in text.splitlines() if line.startswith("| ")]
    header = [h.strip() for h in rows[0]]
    return [dict(zip(header, [c.strip() for c in row], strict=True)) for row in rows[1:]]


@pytest.mark.parametrize("name", ["table_2", "table_5"])
def test_tables_2_and_5_carry_the_papers_numbers_and_delta_against_our_paper_metric(name, tmp_path):
    (tmp_path / "metrics").mkdir()
    for benchmark, content in METRICS.items():
        io.write_json(tmp_path / "metrics" / f"{benchmark}.json", content)
    table = paper_tables.write_paper_tables([name], tmp_path / "metrics", tmp_path / "tables")[name]
    paper = paper_table(name)
    selectors = paper_rows.DEFAULT_PAPER_ROWS[name]
    assert table.columns == paper.columns  # the paper's columns, in its order
    for row in ("IT", "SIT"):
        for column in paper.columns:
            expected = paper_value(name, selectors[row], column)
            assert table.value(row, column, "paper") == expected
            ours = table.value(row, column)
            if (row, column) == ("IT", "seqeval"):  # the pairwise win rate is SIT's (against IT) only
                assert ours is None and table.value(row, column, "Δ") is None
                continue
            assert ours is not None, (row, column)  # every other cell of these metrics is filled
            assert table.value(row, column, "Δ") == pytest.approx(ours - expected)
    lines = parse_markdown((tmp_path / "tables" / f"{name}.md").read_text(encoding="utf-8"))
    assert len(lines) == 2 * len(paper.columns)
    for line in lines:
        assert line["paper"] == paper.printed(selectors[line[table.stub]], line["column"])  # as printed
        if line["ours"] == "–":
            continue
        ours, printed, delta = float(line["ours"]), float(line["paper"]), float(line["Δ"])
        assert delta == pytest.approx(ours - printed, abs=0.051)  # rounded to one decimal
    assert "Llama-3-8B" in (tmp_path / "tables" / f"{name}.md").read_text(encoding="utf-8")


def test_table_2_reads_the_paper_metric_and_shows_the_strict_ones_beside_it():
    table = paper_tables.paper_table("table_2", METRICS)
    assert table.value("SIT", "de") == pytest.approx(42.0)  # paper_accuracy 0.42, in percent
    assert table.value("SIT", "de", "strict") == pytest.approx(37.0)  # strict accuracy
    assert table.value("SIT", "de", "strict EM") == pytest.approx(32.0)  # SQuAD EM against the English gold
    assert table.value("SIT", "de", "strict F1 native") == pytest.approx(27.0)
    mean = sum(0.42 + 0.01 * i for i in range(10)) / 10 * 100
    assert table.value("SIT", "avg_acc") == pytest.approx(mean)  # the ten languages' plain mean, as the paper's
    assert table.value("SIT", "follow") == pytest.approx(mean + 20)
    assert table.value("SIT", "follow", "strict") == pytest.approx(mean + 10)
    assert table.value("SIT", "avg_acc", "paper") == 44.7 and table.cells("SIT", "avg_acc")[4] == "44.70"
    assert table.strict == ("strict", "strict EM", "strict F1", "strict EM native", "strict F1 native")


def test_table_5_labels_the_single_metric_benchmarks():
    table = paper_tables.paper_table("table_5", METRICS)
    metric = {column: table.lines[("SIT", column)].metric for column in table.columns}
    assert metric["xquad"] == metric["mgsm8k"] == "paper"
    assert metric["mmlu"] == "lm-eval acc" and metric["humaneval"] == "lm-eval pass@10"
    assert metric["alpacaeval2"] == "AlpacaEval win rate" and metric["seqeval"] == "judge win rate"
    assert table.value("SIT", "humaneval") == pytest.approx(55.0)  # pass@10, the paper's metric, not pass@1
    assert table.value("SIT", "mmlu", "strict") is None and table.value("SIT", "mgsm8k", "strict") == pytest.approx(
        28.0
    )
    assert table.value("IT", "seqeval") is None  # the pairwise win rate is the first model's only


def test_the_row_mapping_picks_the_paper_row_each_of_ours_is_compared_with():
    mistral = {label: {"base_model": "Mistral-7B", "method": label} for label in ("IT", "SIT")}
    table = build_table(specs.xquad_summary_spec(paper_rows=mistral), METRICS)
    assert table.value("SIT", "th", "paper") == 13.7 and table.value("IT", "de", "paper") == 44.7
    assert "SIT ↔ paper row Mistral-7B · multilingual Alpaca · SIT" in table.legend
    registry = {"mine": "sit"}  # a run of the registry without a paper counterpart: ours only
    table = build_table(specs.main_spec(models=registry, paper_rows={}), METRICS)
    assert table.value("mine", "mmlu") == pytest.approx(60.0) and table.value("mine", "mmlu", "paper") is None
    with pytest.raises(ValueError, match=r"naacl2025 table_5: no row matches \{method: SIT-X\}; rows: .*FlanCoT"):
        build_table(specs.main_spec(paper_rows={"SIT": {"method": "SIT-X"}}), METRICS)
    with pytest.raises(ValueError, match="paper_rows names rows \\['other'\\] that are not rows"):
        build_table(specs.main_spec(paper_rows={"other": {"method": "IT"}}), METRICS)


def test_a_column_the_paper_does_not_have_is_an_error_naming_its_columns():
    spec = TableSpec("table_3", "c", {"IT": "it"}, {}, lambda key, column: Measure(None), columns=("vqa",))
    with pytest.raises(ValueError, match="naacl2025 table_3: no column 'vqa'; columns: vqav2, gqa"):
        build_table(spec, {})


SPEC = TableSpec(
    "table_3",
    "Toy VQA 50% table_3.",
    {"IT": "it", "SIT": "sit"},
    {"IT": {"method": "IT"}, "SIT": {"method": "SIT"}},
    lambda model, column: Measure(
        f"vqa.{model}.{column}.paper_accuracy", strict={"strict": f"vqa.{model}.{column}.em"}
    ),
)
TOY = {"vqa": {"it": {"vqav2": {"paper_accuracy": 0.6157, "em": 0.5}}, "sit": {"gqa": {"paper_accuracy": 0.489}}}}


def test_markdown_is_exact():
    assert to_markdown(build_table(SPEC, TOY)) == (
        "**table_3**: Toy VQA 50% table_3.\n"
        "\n"
        "| model | column | metric | ours | paper | Δ | strict |\n"
        "|---|---|---|---:|---:|---:|---:|\n"
        "| IT | vqav2 | paper | 61.6 | 61.3 | +0.3 | 50.0 |\n"
        "| IT | gqa | paper | – | 47.0 | – | – |\n"
        "| SIT | vqav2 | paper | – | 63.4 | – | – |\n"
        "| SIT | gqa | paper | 48.9 | 48.9 | +0.0 | – |\n"
        "\n"
        "- Paper: naacl2025 table_3, unit %. Δ = ours − paper. `metric`: what ours is (`paper`: the authors' "
        "definition, issue 17; otherwise the benchmark's single metric); `strict`: our strict metric beside it.\n"
        "- IT ↔ paper row InstructBLIP-Vicuna-7B · IT\n"
        "- SIT ↔ paper row InstructBLIP-Vicuna-7B · SIT\n"
    )


def test_csv_is_tidy_with_full_precision_and_the_papers_text():
    text = to_csv(build_table(SPEC, TOY))
    rows = list(csv.reader(_io.StringIO(text)))
    assert rows[0] == ["model", "column", "metric", "ours", "paper", "Δ", "strict"]
    assert rows[1] == ["IT", "vqav2", "paper", "61.57", "61.3", "0.27", "50"]
    assert rows[2] == ["IT", "gqa", "paper", "", "47.0", "", ""]


def test_latex_is_booktabs_with_escapes_math_signs_and_a_rule_between_our_rows():
    latex = to_latex(build_table(SPEC, TOY))
    assert latex.startswith("\\begin{table}[t]\n\\centering\n\\begin{tabular}{lllrrrr}\n\\toprule\n")
    assert "model & column & metric & ours & paper & $\\Delta$ & strict \\\\\n\\midrule\n" in latex
    assert "IT & vqav2 & paper & 61.6 & 61.3 & $+$0.3 & 50.0 \\\\" in latex
    assert "IT & gqa & paper & -- & 47.0 & -- & -- \\\\\n\\midrule\nSIT & vqav2" in latex
    assert "\\caption{Toy VQA 50\\% table\\_3. Paper: naacl2025 table\\_3" in latex
    assert "IT $\\leftrightarrow$ paper row InstructBLIP-Vicuna-7B $\\cdot$ IT" in latex


def test_latex_escape_special_characters():
    assert layout.latex_escape("a_b 50% & $x# {y} ~^\\") == (
        r"a\_b 50\% \& \$x\# \{y\} \textasciitilde{}\textasciicircum{}\textbackslash{}"
    )
    assert layout.latex_escape("1–5, Δ") == r"1--5, $\Delta$"


def test_lookup_dotted_paths_including_keys_with_dots():
    metrics = {"probe": {"csqa_repeat.sit": {"follow_R": 0.55}}, "xquad": {"sit": {"de": {"paper_accuracy": 0.6}}}}
    assert layout.lookup(metrics, "probe.csqa_repeat.sit.follow_R") == 0.55
    assert layout.lookup(metrics, "xquad.sit.de.paper_accuracy") == 0.6
    assert layout.lookup(metrics, "xquad.sit.zh.paper_accuracy") is None
    assert layout.lookup(metrics, "xquad.sit.de.paper_accuracy.more") is None


def test_a_path_to_a_non_number_is_an_error_not_a_dash():
    spec = TableSpec("table_3", "c", {"IT": "it"}, {}, lambda model, column: Measure(f"vqa.{model}.{column}"))
    with pytest.raises(ValueError, match=r"table_3 \(IT, vqav2\) <- 'vqa\.it\.vqav2': expected a number, got dict"):
        build_table(spec, {"vqa": {"it": {"vqav2": {"paper_accuracy": 0.6}}}})


def test_mgsm_delta_is_trans_minus_en_on_the_trans_cot_rows_only():
    metrics = {"mgsm": {"it": {"en-cot/all": {"paper_accuracy": 0.15}, "trans-cot/all": {"paper_accuracy": 0.18}}}}
    table = paper_tables.paper_table("table_10", metrics)
    assert table.value("IT trans-CoT", "delta") == pytest.approx(3.0)
    assert table.value("IT trans-CoT", "delta", "Δ") == pytest.approx(3.0 - 2.1)
    assert ("IT en-CoT", "delta") not in table.lines  # the paper prints no delta there, and neither do we
    assert table.value("SIT en-CoT", "en", "paper") == 37.6


def test_table_8_rows_are_evaluation_prompts_and_columns_training_methods():
    metrics = {"csqa": {"sit": {"repeat": {"paper_accuracy": 0.6, "paper_follow_rate": 0.97, "strict_accuracy": 0.5}}}}
    table = paper_tables.paper_table("table_8", metrics)
    assert table.value("repeat", "sit_repeat_acc") == pytest.approx(60.0)
    assert table.value("repeat", "sit_repeat_acc", "strict") == pytest.approx(50.0)
    assert table.value("repeat", "sit_repeat_follow", "Δ") == pytest.approx(97.0 - 99)
    assert ("non-sequential", "it_follow") not in table.lines  # nothing to follow, and the paper has a dash


def test_table_13_reads_the_judged_iterations_beside_the_paper():
    judged = lambda follow, score: {"1": {"follow_rate": follow, "score": score, "n": 4}}  # noqa: E731
    by_iteration = {"it": {"0": judged(0.4, 4.0), "1": judged(0.5, 4.2)}, "sit": {"0": judged(0.9, 4.5)}}
    table = paper_tables.paper_table("table_13", {"seqeval": {"by_iteration": by_iteration}})
    assert table.value("IT · iteration 1", "follow") == pytest.approx(45.0)
    assert table.value("IT · iteration 1", "score") == pytest.approx(4.1)  # judge score 1-5: not scaled
    assert table.value("IT · iteration 1", "score", "Δ") == pytest.approx(4.1 - 4.467)
    assert table.cells("IT · iteration 1", "score")[3:6] == ["4.100", "4.467", "-0.367"]  # the paper's 3 decimals
    assert table.value("SIT · iteration 2", "follow") is None and table.value("SIT · iteration 2", "follow", "paper")
    assert table.lines[("IT · iteration 1", "win_vs_gpt35")].metric == "not measured"


def test_every_table_builds_from_no_metrics_with_every_paper_number_of_its_default_rows():
    for name, spec in paper_tables.SPECS.items():
        table = build_table(spec, {})
        paper = paper_table(name)
        assert all(line.ours is None for line in table.lines.values()), name
        for label, selector in spec.paper_rows.items():
            for column in paper.columns:
                assert table.value(label, column, "paper") == paper.value(selector, column), (name, label, column)
        assert to_markdown(table) and to_csv(table) and to_latex(table)


def test_write_paper_tables_notes_what_did_not_run_and_what_ran_empty(tmp_path):
    metrics = tmp_path / "metrics"
    io.write_json(metrics / "gsm8k.json", {"sit": {"all": {"accuracy": 0.25}}})
    io.write_json(metrics / "mmlu.json", {"skipped": "data not available (offline). More detail."})
    unparsed = {"all": {"win_rate": None, "n": 4, "n_scored": 0}}
    io.write_json(metrics / "alpaca_eval.json", {"it": unparsed, "sit": unparsed})
    table = paper_tables.write_paper_tables(["table_5"], metrics, tmp_path / "tables")["table_5"]
    assert table.value("SIT", "gsm8k") == 25.0 and table.value("SIT", "mmlu") is None
    not_run, empty = table.notes[-2:]
    assert "mmlu: data not available (offline)" in not_run and "arc_challenge: no metrics file" in not_run
    assert empty.startswith("Empty although run: alpacaeval2 (no value computed")
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == ["table_5.csv", "table_5.md", "table_5.tex"]


def test_write_table_writes_three_files_atomically(tmp_path):
    table = build_table(SPEC, TOY)
    written = layout.write_table(table, tmp_path / "tables", "table_x")
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == ["table_x.csv", "table_x.md", "table_x.tex"]
    assert {p.suffix: p.read_text(encoding="utf-8") for p in written} == {
        ".md": to_markdown(table),
        ".csv": to_csv(table),
        ".tex": to_latex(table),
    }


def test_load_metrics_keys_files_by_stem_without_provenance(tmp_path):
    io.write_json(tmp_path / "xquad.json", {"sit": {"de": {"paper_accuracy": 0.6}}, "provenance": {"seeds": [0]}})
    (tmp_path / "notes.txt").write_text("not metrics", encoding="utf-8")
    assert layout.load_metrics(tmp_path) == {"xquad": {"sit": {"de": {"paper_accuracy": 0.6}}}}


def test_table_1_reads_notebook_01s_probe_file_for_the_set_it_shows():
    probe = {"seeds": [0], "suite_repeat.sit": {"rouge_l_R": 0.5, "bertscore_R": 0.9, "follow_RA": 0.8}}
    assert study_specs.probe_set(["suite_repeat"]) == "suite_repeat"
    assert study_specs.probe_set(["suite_repeat", "csqa_repeat"]) == "csqa_repeat"  # §1's CommonsenseQA probe first
    table = build_table(study_specs.probe_spec(probe_set="suite_repeat"), {"probe": probe})
    assert table.value("SIT", "follow_both") == pytest.approx(80.0)
    assert table.value("SIT", "follow_both", "Δ") == pytest.approx(80.0 - 95)  # Llama-3-8B-Alpaca SIT
    assert table.value("base", "rouge_l_repeat", "paper") == 63 and table.value("base", "rouge_l_repeat") is None


def test_table_6_rows_are_registry_runs_on_table_5s_benchmarks():
    metrics = {"mmlu": {"data_level": {"all": {"accuracy": 0.58}}}}
    table = paper_tables.paper_table("table_6", metrics)
    assert table.value("SIT (data-level)", "mmlu") == pytest.approx(58.0)
    assert table.value("SIT (data-level)", "mmlu", "Δ") == pytest.approx(58.0 - 59.6)
    assert table.value("SIT (Mistral-7B)", "seqeval", "paper") == 46.6


def test_table_4_reads_our_seq_instruct_statistics_per_iteration():
    share = {"A": 0.1, "B": 0.5, "C": 0.2, "D": 0.2}
    stats = {"iterations": {"1": {"avg_input_tokens": 40.25, "avg_output_tokens": 400.0, "option_share": share}}}
    table = paper_tables.paper_table("table_4", {"seq_instruct": {"table4": stats}})
    assert table.value("ours · iteration 1", "avg_input_tokens") == 40.25  # tokens: not scaled
    assert table.value("ours · iteration 1", "avg_input_tokens", "paper") == 44.7
    assert table.value("ours · iteration 1", "prefix") == pytest.approx(50.0)
    assert table.value("ours · iteration 1", "prefix", "Δ") == pytest.approx(50.0 - 51.2)
    assert (
        table.lines[("ours · iteration 2", "hold")].metric == "share"
        and table.value("ours · iteration 2", "hold", "paper") == 63.0
    )
