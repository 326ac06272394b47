"""The tiny model: exact tokenizer round trip, a clean prompt/completion boundary, determinism."""

from __future__ import annotations

import hashlib

import pytest

from seqit_utils import prompts
from seqit_utils.data import loaders, tasks
from seqit_utils.train import tiny

SIZE = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64)


@pytest.fixture(scope="module")
def suite_texts():
    suite = tasks.generate_suite(seed=0, n_train_per_task=40, n_train_sit=200, n_eval_per_split=10)
    records = suite["train_it"] + suite["train_sit_chains"]
    return [prompts.format_prompt(r["instruction"], r["input"], "alpaca_short") + r["output"] for r in records]


def test_decode_inverts_encode_on_task_suite_and_real_alpaca(suite_texts, shared_data):
    alpaca = loaders.load("alpaca", data_dir=shared_data, limit=100)
    real = [prompts.format_prompt(r["instruction"], r["input"], "alpaca") + r["output"] for r in alpaca]
    tokenizer = tiny.train_tokenizer(suite_texts + real, vocab_size=2000, model_max_length=512)
    for text in suite_texts[:300] + real:
        assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text


def test_prompt_tokens_are_a_prefix_of_prompt_plus_completion(suite_texts):
    # trl masks the loss up to the common prefix of tokenize(prompt) and tokenize(prompt + completion)
    tokenizer = tiny.train_tokenizer(suite_texts, vocab_size=600, model_max_length=256)
    suite = tasks.generate_suite(seed=1, n_train_per_task=1, n_train_sit=1, n_eval_per_split=20)
    for record in suite["eval_seq2_seen"] + suite["eval_single"]:
        prompt = prompts.format_prompt(record["instruction"], record["input"], "alpaca_short")
        head = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        whole = tokenizer(prompt + record["output"], add_special_tokens=False)["input_ids"]
        assert whole[: len(head)] == head


def test_same_texts_and_seed_give_identical_files(suite_texts, tmp_path):
    def digest(folder):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}

    a = tiny.build_tiny(suite_texts, tmp_path / "a", seed=3, max_position_embeddings=128, vocab_size=500, **SIZE)
    b = tiny.build_tiny(suite_texts, tmp_path / "b", seed=3, max_position_embeddings=128, vocab_size=500, **SIZE)
    c = tiny.build_tiny(suite_texts, tmp_path / "c", seed=4, max_position_embeddings=128, vocab_size=500, **SIZE)
    assert digest(a) == digest(b)
    assert digest(a)["model.safetensors"] != digest(c)["model.safetensors"]


def test_model_vocabulary_matches_tokenizer_and_padding_is_left(suite_texts, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tiny.build_tiny(suite_texts, tmp_path / "m", seed=0, max_position_embeddings=128, vocab_size=500, **SIZE)
    model, tokenizer = AutoModelForCausalLM.from_pretrained(out), AutoTokenizer.from_pretrained(out)
    assert model.config.vocab_size == len(tokenizer) <= 500
    assert tokenizer.padding_side == "left" and tokenizer.pad_token == "<pad>" and tokenizer.eos_token == "</s>"
