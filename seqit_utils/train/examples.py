"""Training examples: instruction records and conversations tokenised into `input_ids` + `completion_mask`, the
loss on the response only (§2.1: −log p(ŷ | s)); trl's SFTTrainer uses them as they are (`max_length=None`).
"""

from __future__ import annotations

from typing import Any

from seqit_utils.prompts import format_prompt


def tokenize_records(
    records: list[dict[str, Any]], tokenizer: Any, template: str, max_length: int
) -> list[dict[str, list[int]]]:
    """`input_ids` = prompt + response + EOS and `completion_mask` (1 on response and EOS tokens).

    Sequences longer than `max_length` are cut from the right; a record whose response would vanish entirely is
    dropped (it would carry no loss).
    """
    prompts = [format_prompt(r["instruction"], r.get("input", ""), template, tokenizer) for r in records]
    prompt_ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    response_ids = tokenizer([r["output"] for r in records], add_special_tokens=False)["input_ids"]
    bos = tokenizer.bos_token_id
    examples = []
    for head, tail in zip(prompt_ids, response_ids, strict=True):
        if bos is not None and head[:1] != [bos]:  # a chat template may already write BOS (as in generate.encode)
            head = [bos, *head]
        tail = tail + [tokenizer.eos_token_id]
        ids = (head + tail)[:max_length]
        if len(ids) <= len(head):
            continue
        examples.append({"input_ids": ids, "completion_mask": ([0] * len(head) + [1] * len(tail))[:max_length]})
    return examples


def tokenize_conversations(
    records: list[dict[str, Any]], tokenizer: Any, template: str, max_length: int
) -> list[dict[str, list[int]]]:
    """Multi-turn records (`messages`: user, assistant, user, assistant, …; the SIT-multi ablation of §5.1) as
    `input_ids` + `completion_mask` with the loss on every assistant turn (and the EOS closing it).

    Template "chat" renders the conversation with the tokenizer's chat template (each turn is the difference of
    rendering the conversation up to it and up to the turn before); the plain templates write each user turn as a
    prompt (`format_prompt`) followed by the assistant's reply and EOS. Cut from the right at `max_length`;
    a record left without any response token is dropped.
    """
    bos = tokenizer.bos_token_id
    examples = []
    for record in records:
        ids, mask = ([bos], [0]) if bos is not None else ([], [])
        rendered = ""
        for k in range(0, len(record["messages"]), 2):
            user, reply = record["messages"][k]["content"], record["messages"][k + 1]["content"]
            if template == "chat":
                turns = record["messages"][: k + 1]
                prompt = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
                full = tokenizer.apply_chat_template(record["messages"][: k + 2], tokenize=False)
                head, tail, rendered = prompt[len(rendered) :], full[len(prompt) :], full
                tail_ids = tokenizer(tail, add_special_tokens=False)["input_ids"]
            else:
                head = format_prompt(user, "", template, tokenizer)
                tail_ids = tokenizer(reply, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
            head_ids = tokenizer(head, add_special_tokens=False)["input_ids"]
            if k == 0 and bos is not None and head_ids[:1] == [bos]:  # the chat template wrote BOS already
                ids, mask = [], []
            ids += head_ids + tail_ids
            mask += [0] * len(head_ids) + [1] * len(tail_ids)
        if any(mask[:max_length]):
            examples.append({"input_ids": ids[:max_length], "completion_mask": mask[:max_length]})
    return examples


def tokenize(records: list[dict[str, Any]], tokenizer: Any, template: str, max_length: int) -> list[dict]:
    """`tokenize_conversations` for records with `messages`, else `tokenize_records` (one set is one kind)."""
    kinds = {"messages" in r for r in records}
    if len(kinds) > 1:
        raise ValueError("a training set mixes multi-turn (`messages`) and single-turn records; split them")
    conversations = kinds == {True}
    return (tokenize_conversations if conversations else tokenize_records)(records, tokenizer, template, max_length)
