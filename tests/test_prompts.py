"""Prompt formats: Alpaca (with/without input), the short Alpaca layout, Tulu, and a tokenizer's chat template."""

from __future__ import annotations

import pytest

from seqit_utils import prompts
from seqit_utils.train import tiny


def test_alpaca_with_and_without_input():
    with_input = prompts.format_prompt("Sort the items.", "3 1 2", "alpaca")
    assert with_input.startswith("Below is an instruction that describes a task, paired with an input")
    assert with_input.endswith("### Instruction:\nSort the items.\n\n### Input:\n3 1 2\n\n### Response:\n")
    without = prompts.format_prompt("Name a colour.", "", "alpaca")
    assert "### Input:" not in without and without.endswith("### Instruction:\nName a colour.\n\n### Response:\n")
    assert (
        prompts.format_prompt("Sort.", "3 1", "alpaca_short")
        == "### Instruction:\nSort.\n\n### Input:\n3 1\n\n### Response:\n"
    )


def test_tulu_puts_instruction_and_input_in_one_user_turn():
    assert prompts.format_prompt("Sort.", "3 1", "tulu") == "<|user|>\nSort.\n\n3 1\n<|assistant|>\n"
    assert prompts.format_prompt("Hi.", "", "tulu") == "<|user|>\nHi.\n<|assistant|>\n"


def test_chat_template_of_the_tokenizer():
    tokenizer = tiny.train_tokenizer(["hello world"] * 10, vocab_size=100, model_max_length=64)
    with pytest.raises(ValueError, match="needs a tokenizer that has a chat template"):
        prompts.format_prompt("Sort.", "3 1", "chat", tokenizer)
    tokenizer.chat_template = (
        "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}[assistant] {% endif %}"
    )
    assert prompts.format_prompt("Sort.", "3 1", "chat", tokenizer) == "[user] Sort.\n\n3 1\n[assistant] "


def test_unknown_template_and_prompt_completion_pairs():
    with pytest.raises(ValueError, match="allowed values: alpaca, alpaca_short, tulu, chat"):
        prompts.format_prompt("x", "", "vicuna")
    pair = prompts.to_prompt_completion({"instruction": "Sort.", "input": "3 1", "output": "1 3"}, "tulu")
    assert pair == {"prompt": "<|user|>\nSort.\n\n3 1\n<|assistant|>\n", "completion": "1 3"}
