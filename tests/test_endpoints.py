"""`seqit_utils.llm.endpoints`: a served copy of a trained model renders chats in its training template; the profile's
endpoints become clients with the profile's cache. (A real server on such a copy runs in test_pipeline's stages.)"""

from __future__ import annotations

import json

import pytest

from seqit_utils.config import load_config
from seqit_utils.llm.endpoints import open_client, served_copy
from seqit_utils.prompts import format_prompt
from seqit_utils.train import tiny


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, one_torch_thread):
    texts = [format_prompt(f"Sort the list: {k} 2 1", "", "alpaca_short") + "1 2" for k in range(30)]
    size = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    return tiny.build_tiny(
        texts, tmp_path_factory.mktemp("m") / "sit-0", seed=0, max_position_embeddings=128, vocab_size=200, **size
    )


@pytest.mark.parametrize("template", ["alpaca_short", "alpaca", "tulu"])
def test_served_copy_renders_a_chat_as_the_training_prompt(model_dir, tmp_path, template):
    from transformers import AutoTokenizer

    copy = served_copy(model_dir, tmp_path, template, context=4096)
    tokenizer = AutoTokenizer.from_pretrained(copy)
    messages = [{"role": "user", "content": "Sort the list: 3 2 1"}]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert rendered == format_prompt("Sort the list: 3 2 1", "", template)
    assert json.loads((copy / "config.json").read_text())["max_position_embeddings"] == 4096
    assert tokenizer.model_max_length == 4096
    assert json.loads((model_dir / "config.json").read_text())["max_position_embeddings"] == 128  # original kept


def test_served_copy_is_named_by_content_so_a_retrained_model_is_never_answered_from_cache(model_dir, tmp_path):
    first = served_copy(model_dir, tmp_path, "alpaca_short")
    assert served_copy(model_dir, tmp_path, "alpaca_short") == first  # reused, not copied again
    assert first.name.startswith("sit-0-") and served_copy(model_dir, tmp_path, "tulu") != first
    retrained = tmp_path / "retrained" / "sit-0"
    retrained.mkdir(parents=True)
    for path in model_dir.iterdir():
        retrained.joinpath(path.name).write_bytes(path.read_bytes())
    weights = retrained / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    assert served_copy(retrained, tmp_path, "alpaca_short") != first
    assert served_copy(model_dir, tmp_path, "chat") == model_dir  # the model's own template: served as is


def test_served_copy_refuses_a_missing_model_and_an_unknown_template(tmp_path, model_dir):
    with pytest.raises(FileNotFoundError, match="no config.json; train the model first"):
        (tmp_path / "empty").mkdir()
        served_copy(tmp_path / "empty", tmp_path, "alpaca")
    with pytest.raises(ValueError, match="allowed: chat, alpaca_short, alpaca, tulu"):
        served_copy(model_dir, tmp_path, "vicuna")


def test_a_remote_endpoint_becomes_a_client_with_the_profile_cache_and_no_key(tmp_path, monkeypatch):
    config = load_config("paper")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-stored")
    with open_client(config, "judge", tmp_path, progress=False) as client:
        assert (client.base_url, client.model) == ("https://api.openai.com/v1", "gpt-4-turbo")
        assert client.cache == tmp_path / "outputs" / "paper" / "llm_cache" / "gpt4_turbo.sqlite"
        assert client.sampling.max_tokens == 2048 and client.concurrency == 32
        assert "sk-never-stored" not in repr(client) + repr(vars(client))
    with pytest.raises(ValueError, match="role = 'critic'"), open_client(config, "critic", tmp_path):
        pass


def _with_suite_endpoint(tmp_path, suite):
    import yaml

    from seqit_utils.config import find_project_root

    raw = yaml.safe_load((find_project_root() / "params" / "smoke.yaml").read_text())
    raw["llm"]["endpoints"]["suite"] = {"suite": suite, "sampling": {"temperature": 0.0, "max_tokens": 64}}
    path = tmp_path / "smoke.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_a_suite_endpoint_serves_the_suite_generator_through_the_profile_cache(tmp_path):
    """`suite:` endpoints run the suite generator's real server (a program standing in for the paper's 70B model):
    a suite instruction is answered from the suite's ground truth, and a repeated request comes from the cache."""
    from seqit_utils.data import tasks
    from seqit_utils.llm.endpoints import open_endpoint
    from seqit_utils.prompts import user_message

    config = load_config("smoke", path=_with_suite_endpoint(tmp_path, {"A": 1.0}))
    records = tasks.generate_suite(seed=0, n_train_per_task=1, n_train_sit=1, n_eval_per_split=3)["eval_seq2_seen"]
    question = [[{"role": "user", "content": user_message(r["instruction"], r["input"])}] for r in records]
    with open_endpoint(config, "suite", tmp_path, progress=False) as client:
        assert client.model.startswith("suite-generator-") and "stands in for" in client.model
        assert client.cache == tmp_path / "outputs" / "smoke" / "llm_cache" / "suite.sqlite"
        first = [r.text for r in client.complete(question)]
        assert first == [r["output"] for r in records] and client.totals.requests == 3
    with open_endpoint(config, "suite", tmp_path, progress=False) as client:
        again = [r.text for r in client.complete(question)]
        assert client.totals.requests == 0 and again == first
    assert (tmp_path / "outputs" / "smoke" / "served" / "suite.log").is_file()


def test_a_suite_endpoint_with_bad_rates_or_two_kinds_is_refused(tmp_path):
    with pytest.raises(ValueError, match="rates"):
        load_config("smoke", path=_with_suite_endpoint(tmp_path, {"Z": 1.0}))
    path = _with_suite_endpoint(tmp_path, {})
    text = path.read_text().replace("suite: {}", "suite: {}\n      base_url: http://x\n      model: m")
    path.write_text(text)
    with pytest.raises(ValueError, match="exactly one of `serve`"):
        load_config("smoke", path=path)
