"""params `tables:`: each paper table names the runs of its rows; those runs (and only those) are evaluated on the
benchmarks the table needs, and every row is compared with the paper's row it names."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from seqit_utils.config import find_project_root, load_config
from seqit_utils.evaluate import cached_generation
from seqit_utils.evaluate.models import eval_models, for_benchmark
from seqit_utils.tables import layout, registry
from seqit_utils.tables.paper_tables import BENCHMARKS
from seqit_utils.train import tiny

ROOT = find_project_root(Path(__file__).parent)


def _variant(tmp_path: Path, profile: str, edit) -> Path:
    raw = yaml.safe_load((ROOT / "params" / f"{profile}.yaml").read_text())
    edit(raw)
    path = tmp_path / f"{profile}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_paper_tables_read_the_runs_trained_on_their_own_data():
    config = load_config("paper", ROOT)
    assert registry.rows(config, "table_2")["SIT"] == "sit_translate"  # §4.1.1: translate-SIT, not repeat-SIT
    assert registry.rows(config, "table_5")["SIT"] == "sit_seq_instruct"  # §4.2: Seq-Instruct SIT
    assert registry.rows(config, "table_11") == {"IT": "flancot_it", "SIT": "flancot_sit"}
    assert set(registry.rows(config, "table_7").values()) == {"mistral_it", "mistral_sit", "mistral_sit_paraphrase"}
    needs = registry.run_benchmarks(config)
    assert needs["sit_translate"] == ["xquad"]  # Tables 2 and 9 only
    assert "csqa" in needs["mistral_sit_paraphrase"] and "xquad" not in needs["mistral_sit_paraphrase"]
    assert set(BENCHMARKS["table_5"]) <= set(needs["tulu_metamath_sit"])


def test_every_row_of_every_paper_table_finds_its_paper_number():
    config = load_config("paper", ROOT)
    for name, spec in registry.table_specs(config).items():
        table = layout.build_table(spec, {})
        for label in registry.rows(config, name) if name not in registry.COLUMN_TABLES else ["ours"]:
            ours = [row for row in table.rows if row == label or row.startswith(f"{label} ")]
            if name == "table_8":
                ours = list(table.rows)  # rows are the evaluation prompts
            assert ours, (name, label)
            paper = [table.value(row, column, "paper") for row in ours for column in table.columns]
            assert any(value is not None for value in paper), f"{name} row {label!r}: no paper number"


def test_a_row_naming_a_run_that_does_not_list_the_table_is_refused(tmp_path):
    path = _variant(tmp_path, "paper", lambda raw: raw["tables"]["table_2"]["rows"].update(SIT="sit"))
    with pytest.raises(ValueError, match=r"tables.table_2.rows.'SIT'.run = 'sit': add 'table_2' to runs.sit.tables"):
        load_config("paper", path=path)
    path = _variant(tmp_path, "paper", lambda raw: raw["tables"]["table_2"]["rows"].update(SIT="nope"))
    with pytest.raises(ValueError, match=r"tables.table_2.rows.'SIT'.run = 'nope' is not defined"):
        load_config("paper", path=path)


def test_a_label_without_a_default_paper_row_needs_a_selector(tmp_path):
    def edit(raw):
        raw["tables"]["table_5"]["rows"]["Mine"] = "flancot_it"

    config = load_config("paper", path=_variant(tmp_path, "paper", edit))
    with pytest.raises(ValueError, match=r"tables.table_5.rows.'Mine': no default paper row .* give `paper:"):
        registry.table_specs(config)


def test_pairwise_names_registry_runs(tmp_path):
    path = _variant(tmp_path, "smoke", lambda raw: raw["seqeval"].update(pairwise=["sit", "nope"]))
    with pytest.raises(ValueError, match=r"seqeval.pairwise = 'nope' is not defined"):
        load_config("smoke", path=path)


def test_each_model_runs_only_the_benchmarks_of_its_tables(tmp_path):
    def edit(raw):
        raw["runs"]["csqa_only"] = copy.deepcopy(raw["runs"]["sit"]) | {"tables": ["table_7"], "seeds": [0]}
        raw["tables"]["table_7"]["rows"]["sit_paraphrase"] = "csqa_only"

    config = load_config("smoke", path=_variant(tmp_path, "smoke", edit))
    models = eval_models(config, tmp_path)
    assert models["csqa_only-0"].benchmarks == ("csqa",)
    assert "csqa_only-0" not in for_benchmark(models, "xquad") and "csqa_only-0" in for_benchmark(models, "csqa")
    assert models["it-0"].runs("xquad") and models["it-0"].group == "it" and models["sit-1"].prompt == "sit"
    assert Path(models["it-1"].path) == tmp_path / "outputs" / "smoke" / "models" / "it-1"
    # generation asks each model only for its benchmarks: a real tiny model, one record per benchmark
    record = {"id": "q1", "instruction": "Name a colour.", "input": "", "output": "red"}
    shape = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, vocab_size=200)
    tiny.build_tiny([record["instruction"]] * 8, Path(models["csqa_only-0"].path), seed=0, max_position_embeddings=256,
                    **shape)  # fmt: skip
    sets = {"xquad": {"it-prompt/en": [record]}, "csqa": {"single": [record]}}
    only = {"csqa_only-0": models["csqa_only-0"]}
    outputs = cached_generation.generate(config, only, sets, tmp_path, progress=False)
    assert list(outputs["csqa_only-0"]) == ["csqa"] and len(outputs["csqa_only-0"]["csqa"]["single"]) == 1
    cached = cached_generation.cache_dir(config, tmp_path)
    assert sorted(p.parent.parent.name for p in cached.rglob("*.json")) == ["csqa"]
