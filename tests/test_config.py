"""Profiles validate; bad params fail early with messages naming the file, the key and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from seqit_utils.config import PROFILES, find_project_root, load_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_validates_and_writes_to_its_own_folder(profile):
    config = load_config(profile, ROOT)
    assert config.profile == profile
    assert config.output_dir == Path("outputs") / profile


def test_profiles_cover_the_paper_settings():
    paper = load_config("paper", ROOT)
    v1, v3 = paper.train.setups["v1_lora"], paper.train.setups["v3_full"]
    # v1: LoRA on q/k/v, r 8, alpha 16, dropout 0.05, lr 3e-4, global batch 128, 5 epochs, best dev checkpoint
    assert (v1.method, v1.lora.r, v1.lora.lora_alpha, v1.lora.lora_dropout) == ("lora", 8, 16, 0.05)
    assert sorted(v1.lora.target_modules) == ["k_proj", "q_proj", "v_proj"]
    assert (v1.learning_rate, v1.num_train_epochs, v1.load_best_model_at_end) == (3e-4, 5, True)
    assert v1.per_device_train_batch_size * v1.gradient_accumulation_steps == 128
    # v3: full fine-tuning, 3 epochs, lr 2e-5, warmup 0.03, linear decay, effective batch 128, max length 2048
    assert (v3.method, v3.num_train_epochs, v3.learning_rate, v3.warmup_steps) == ("full", 3, 2e-5, 0.03)
    assert (v3.lr_scheduler_type, v3.max_length) == ("linear", 2048)
    assert v3.per_device_train_batch_size * v3.gradient_accumulation_steps == 128
    templates = {spec.name_or_path: spec.prompt_template for spec in paper.model.base_models.values()}
    assert templates == {"meta-llama/Meta-Llama-3-8B": "tulu", "mistralai/Mistral-7B-v0.1": "alpaca"}
    assert load_config("smoke", ROOT).data.datasets == {}


def _write_variant(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())
    edit(raw)
    path = tmp_path / "smoke.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _error(tmp_path: Path, edit) -> str:
    path = _write_variant(tmp_path, edit)
    with pytest.raises(ValueError) as info:
        load_config("smoke", path=path)
    return str(info.value)


def test_unknown_key_names_the_key_and_the_allowed_keys(tmp_path):
    message = _error(tmp_path, lambda raw: raw["train"]["setups"]["tiny_scratch"].update(learning_rte=1e-3))
    assert str(tmp_path / "smoke.yaml") in message
    assert "train.setups.tiny_scratch.learning_rte: unknown key" in message
    assert "did you mean 'learning_rate'" in message
    assert "per_device_train_batch_size" in message  # the allowed keys are listed


def test_unknown_top_level_key(tmp_path):
    message = _error(tmp_path, lambda raw: raw.update(sed=1))
    assert "sed: unknown key (did you mean 'seed'?)" in message
    allowed = "ablations, analysis, data, evaluation, experiment, llm, model, multimodal, runs, seed, seq_instruct"
    allowed += ", seqeval, tables, train"
    assert f"allowed keys here: {allowed}" in message


def test_bad_value_names_the_allowed_values(tmp_path):
    message = _error(tmp_path, lambda raw: raw["model"]["base_models"]["tiny"].update(prompt_template="vicuna"))
    assert "model.base_models.tiny.prompt_template" in message
    assert "'alpaca', 'alpaca_short', 'tulu' or 'chat'" in message and "'vicuna'" in message


def test_wrong_type_is_not_coerced(tmp_path):
    message = _error(tmp_path, lambda raw: raw.update(seed="0"))
    assert "seed: Input should be a valid integer" in message


def test_dangling_choice_lists_defined_setups(tmp_path):
    message = _error(tmp_path, lambda raw: raw["train"].update(setup="v9"))
    assert "setup = 'v9' is not defined; allowed values: tiny_finetune, tiny_scratch" in message


def test_unknown_loader_lists_the_loaders(tmp_path):
    message = _error(tmp_path, lambda raw: raw["data"].update(datasets={"x": {"loader": "squad"}}))
    assert "data.datasets.x" in message and "unknown loader 'squad'" in message and "xquad" in message


def test_lora_method_requires_lora_section(tmp_path):
    message = _error(tmp_path, lambda raw: raw["train"]["setups"]["tiny_scratch"].update(method="lora"))
    assert "needs a `lora` section" in message


def test_unknown_profile_lists_available_profiles():
    with pytest.raises(ValueError, match="allowed values: paper, sample, smoke"):
        load_config("papr", ROOT)


def test_project_root_is_found_from_a_subfolder():
    assert find_project_root(ROOT / "notebooks") == ROOT
    with pytest.raises(FileNotFoundError, match="no seqit project"):
        find_project_root(Path("/"))


def test_params_yaml_matches_its_profile():
    """dvc.yaml's `train` and `train_sets` stages read the run registry's entries from params.yaml; they must equal
    the profile's."""
    from seqit_utils.train.runs import train_entries, train_set_entries

    current = yaml.safe_load((ROOT / "params.yaml").read_text())
    config = load_config(current["profile"], ROOT)
    assert current["seeds"] == config.experiment.seeds
    assert current["train_runs"] == train_entries(config)
    assert list(current["train_runs"]) == config.trained_models()
    assert current["train_sets"] == train_set_entries(config)


def test_use_profile_rewrites_params_yaml_only_for_valid_profiles(tmp_path):
    import shutil

    from seqit_utils.config import use_profile
    from seqit_utils.train import runs

    shutil.copytree(ROOT / "params", tmp_path / "params")
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    use_profile("paper", tmp_path)
    written = yaml.safe_load((tmp_path / "params.yaml").read_text())
    paper = load_config("paper", ROOT)
    assert written["profile"] == "paper" and written["seeds"] == [42]
    assert list(written["train_runs"]) == [f"{name}-42" for name in paper.runs if runs.unbuilt(paper, name) is None]
    assert "sit_translate-42" in written["train_runs"] and "sit_cmdr-42" in written["train_runs"]
    assert written["train_sets"] == runs.train_set_entries(paper) and "sit_translate" in written["train_sets"]
    assert written["train_runs"]["sit_seq_instruct-42"] == {
        "run": "sit_seq_instruct",
        "seed": 42,
        "data": "seq_instruct/iteration_2.jsonl",
        "init": "models/base",
    }
    with pytest.raises(ValueError, match="allowed values"):
        use_profile("gpu", tmp_path)
    assert yaml.safe_load((tmp_path / "params.yaml").read_text())["profile"] == "paper"


def _endpoint(raw, **fields):
    raw["llm"]["endpoints"]["local"] = fields


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda raw: _endpoint(raw, serve="sit-0", base_url="http://x/v1"), "give exactly one of `serve`"),
        (lambda raw: _endpoint(raw, base_url="https://api.openai.com/v1"), "needs `model`"),
        (lambda raw: _endpoint(raw, serve="sit-7"), "serve = 'sit-7'; allowed values: ablation_it-0, ablation_it-1"),
        (lambda raw: _endpoint(raw, serve="sit-0", sampling={"temprature": 0.0}), "temprature"),
        (lambda raw: raw["llm"].update(judge="gpt5"), "judge = 'gpt5' is not defined; allowed values: local"),
        (lambda raw: raw["seqeval"].update(ratios=[0.5, 0.5]), "ratios has 2 shares for 4 iterations"),
        (lambda raw: raw["seq_instruct"].update(allowed_options=["A", "E"]), "seq_instruct.allowed_options.1"),
        (lambda raw: raw.pop("llm"), "need an `llm` section"),
    ],
)
def test_llm_sections_are_checked_before_any_request(tmp_path, edit, expected):
    message = _error(tmp_path, edit)
    assert expected in message, message


def test_an_api_key_cannot_be_written_into_params(tmp_path):
    message = _error(tmp_path, lambda raw: _endpoint(raw, serve="sit-0", api_key="sk-secret"))
    assert "llm.endpoints.local.api_key: unknown key (did you mean 'api_key_env'?)" in message
    assert "sk-secret" not in message


def _run(**fields):
    return {"train_data": ["task_suite"], "tables": ["table_6"], **fields}


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda runs: runs.update(x=_run(generator="local_base")), "set transform: seq_instruct"),
        (lambda runs: runs.update(x=_run(transform="datalevel")), "runs.x.transform"),
        (lambda runs: runs.update(x=_run(train="../it.jsonl")), "under outputs/<profile>/"),
        (lambda runs: runs.update(x=_run(tables=["tabel_9"])), "allowed: table_<N>"),
        (lambda runs: runs.update(x=_run(tables=[])), "runs.x.tables"),
        (lambda runs: runs.update(x=_run(train_data=[])), "runs.x.train_data"),
        (lambda runs: runs.update(x=_run(base="llama")), "runs.x.base = 'llama'"),
        (lambda runs: runs.update(x=_run(setup="v3")), "runs.x.setup = 'v3'"),
        (lambda runs: runs.update(x=_run(seeds=[7])), "runs.x.seeds = [7]: each must be one of experiment.seeds"),
        (lambda runs: runs.update(x=_run(transform="seq_instruct", generator="gpt")), "runs.x.generator = 'gpt'"),
        (lambda runs: runs.update(x=_run(tiny={"hidden": 4})), "hidden"),
        (lambda runs: runs.update(x=_run(train_overrides={"max_step": 5})), "runs.x.train_overrides"),
        (lambda runs: runs.update({"a-b": _run()}), "letters, digits and '_'"),
    ],
)
def test_bad_runs_name_the_run_and_the_fix(tmp_path, edit, expected):
    message = _error(tmp_path, lambda raw: edit(raw["runs"]))
    assert expected in message, message


def test_training_data_cannot_come_from_a_model_trained_on_it(tmp_path):
    """Seq-Instruct's generator (stage 03) makes training data: serving a trained run there is a DAG cycle."""
    message = _error(tmp_path, lambda raw: raw["llm"].update(generator="local"))
    assert "llm.generator = 'local' serves 'sit-0', a trained model" in message and "base/seed-0" in message


def test_the_seq_instruct_split_needs_a_defined_endpoint(tmp_path):
    message = _error(tmp_path, lambda raw: raw["ablations"]["seq_instruct_split"].update(endpoint="gpt"))
    assert "ablations.seq_instruct_split.endpoint = 'gpt' is not defined; allowed values: local" in message

    def unset(raw):
        del raw["ablations"]["seq_instruct_split"]
        raw["runs"]["x"] = _run(transform="seq_instruct_split")

    assert "needs ablations.seq_instruct_split" in _error(tmp_path, unset)


@pytest.mark.parametrize(
    ("init", "extra", "expected"),
    [
        ("itt", {}, "runs.data_level.init = 'itt' is not defined; allowed values: ablation_it"),
        ("it", {"tiny": {"hidden_size": 64}}, "runs.data_level.init = 'it' replaces the base: remove `base` / `tiny`"),
        ("data_level", {}, "runs.data_level.init: the chain of `init` runs loops back to 'data_level'"),
    ],
)
def test_init_must_name_another_run_that_is_a_starting_point(tmp_path, init, extra, expected):
    message = _error(tmp_path, lambda raw: raw["runs"]["data_level"].update(init=init, **extra))
    assert expected in message, message


def test_init_needs_the_seeds_it_starts_from(tmp_path):
    def edit(raw):
        raw["runs"]["it"]["seeds"] = [0]

    message = _error(tmp_path, edit)
    assert "runs.ablation_it.init = 'it': that run is not trained on seed(s) [1]" in message, message
