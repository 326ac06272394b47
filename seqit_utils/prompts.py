"""Prompt formats for training and generation: Alpaca (Mistral, §4), Tulu (Llama-3, §4), the tokenizer's own chat
template, and `alpaca_short` (the Alpaca layout without its preamble, for the tiny from-scratch models, where the
preamble would triple the sequence length and carry no information).

A record's prompt is everything the model is given; its completion is the response followed by EOS. Training puts
the loss on the completion only (§2.1: −log p(ŷ | s)).
"""

from __future__ import annotations

import re
from typing import Any

TEMPLATES = ("alpaca", "alpaca_short", "tulu", "chat")

# Stanford Alpaca's template (tatsu-lab/stanford_alpaca, train.py), with and without an input.
_ALPACA_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
_ALPACA_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:\n"
)
_SHORT_INPUT = "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
_SHORT_NO_INPUT = "### Instruction:\n{instruction}\n\n### Response:\n"
# Tulu (open-instruct) format used for Llama-3 in §4: user turn, then the assistant's answer.
_TULU = "<|user|>\n{content}\n<|assistant|>\n"
# Where a model that runs on past its answer starts the template's next turn: generation is cut there. Alpaca
# layouts start a new "### Instruction:" block; Tulu a new user turn (a Tulu answer may itself hold "\n\n###",
# a markdown heading); a chat template ends its turns with tokens that are EOS ids of the model's generation config.
STOP_STRINGS = {
    "alpaca": ("\n\n###",),
    "alpaca_short": ("\n\n###",),
    "tulu": ("<|user|>", "<|assistant|>"),
    "chat": (),
}


def user_message(instruction: str, input: str = "") -> str:
    """Instruction and input as one user turn (Tulu and chat templates have no separate input field)."""
    return f"{instruction}\n\n{input}" if input else instruction


def format_prompt(instruction: str, input: str = "", template: str = "alpaca", tokenizer: Any = None) -> str:
    """The prompt text for one instruction (+ optional input); the model continues it with the response."""
    if template == "alpaca":
        return (_ALPACA_INPUT if input else _ALPACA_NO_INPUT).format(instruction=instruction, input=input)
    if template == "alpaca_short":
        return (_SHORT_INPUT if input else _SHORT_NO_INPUT).format(instruction=instruction, input=input)
    if template == "tulu":
        return _TULU.format(content=user_message(instruction, input))
    if template == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError("prompt_template 'chat' needs a tokenizer that has a chat template")
        messages = [{"role": "user", "content": user_message(instruction, input)}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    raise ValueError(f"prompt_template = {template!r} is unknown; allowed values: {', '.join(TEMPLATES)}")


def stop_strings(template: str) -> tuple[str, ...]:
    """The stop strings of generation in `template` (`STOP_STRINGS`)."""
    if template not in STOP_STRINGS:
        raise ValueError(f"prompt_template = {template!r} is unknown; allowed values: {', '.join(TEMPLATES)}")
    return STOP_STRINGS[template]


def to_prompt_completion(record: dict[str, Any], template: str, tokenizer: Any = None) -> dict[str, str]:
    """An instruction record as the `prompt`/`completion` pair trl trains on (loss on the completion only)."""
    return {
        "prompt": format_prompt(record["instruction"], record.get("input", ""), template, tokenizer),
        "completion": record["output"],
    }


# Paraphrase-SIT (§2.2, App. A: "First paraphrase the input, then ..."): the intermediate output is asked of an LLM.
# Our wording after the authors' request (hanxuhu/SeqIns construct_data/make_data_alpaca_paraphrase1.py: gpt-3.5-turbo,
# temperature 0, a system line asking to paraphrase the user's sentence, then "paraphrase this sentence:" + input).
PARAPHRASE_SYSTEM = "You paraphrase text: say the same thing in other words, keeping every fact, number and name."
PARAPHRASE_USER = "Paraphrase this text. Reply with the paraphrase only.\n\n{text}"
_PARAPHRASE_LABEL = re.compile(r"^\s*(?:here is (?:a|the) )?paraphrase(?:d text)?\s*:\s*", re.IGNORECASE)


def paraphrase_messages(text: str) -> list[dict[str, str]]:
    """The chat request for one paraphrase of `text`."""
    return [
        {"role": "system", "content": PARAPHRASE_SYSTEM},
        {"role": "user", "content": PARAPHRASE_USER.format(text=text)},
    ]


def parse_paraphrase(reply: str | None) -> str:
    """The paraphrase in a reply: stripped of a leading "Paraphrase:" label and of quotes around the whole text;
    "" for a failed or empty reply (manual SIT then leaves that record unchanged)."""
    text = _PARAPHRASE_LABEL.sub("", (reply or "").strip(), count=1).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text
