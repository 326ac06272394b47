"""Training on the CPU with the real stack (transformers + peft + trl) on a tiny model: response-only loss,
backend choice, LoRA gradients, resume from a checkpoint, seeded determinism."""

from __future__ import annotations

import hashlib

import pytest
import torch

from seqit_utils import prompts
from seqit_utils.config import LoraParams, TrainSetup
from seqit_utils.data import tasks
from seqit_utils.train import tiny
from seqit_utils.train import trainer as train

SIZE = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)


@pytest.fixture(scope="module", autouse=True)
def _single_thread(one_torch_thread):
    """Module-wide: the fixtures below build and train models."""


@pytest.fixture(scope="module")
def records():
    suite = tasks.generate_suite(seed=0, n_train_per_task=30, n_train_sit=200, n_eval_per_split=5)
    return suite["train_it"] + suite["train_sit_chains"]


@pytest.fixture(scope="module")
def base(records, tmp_path_factory):
    texts = [prompts.format_prompt(r["instruction"], r["input"], "alpaca_short") + r["output"] for r in records]
    out = tmp_path_factory.mktemp("base") / "tiny"
    return tiny.build_tiny(texts, out, seed=0, max_position_embeddings=128, vocab_size=400, **SIZE)


def _setup(**changes) -> TrainSetup:
    values = dict(
        method="full",
        backend="auto",
        learning_rate=3e-3,
        num_train_epochs=1,
        max_steps=20,
        per_device_train_batch_size=16,
        lr_scheduler_type="constant",
        max_length=96,
        save_steps=10,
        logging_steps=5,
    )
    return TrainSetup(**(values | changes))


def _weights_digest(folder) -> str:
    return hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


def test_backend_resolution_and_clear_refusals():
    full, lora = (
        _setup(),
        _setup(method="lora", lora=LoraParams(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj"])),
    )
    assert train.resolve_backend(full, cuda=False) == "full"
    assert train.resolve_backend(lora, cuda=False) == "peft"
    with pytest.raises(RuntimeError, match="needs an NVIDIA GPU"):
        train.resolve_backend(_setup(backend="unsloth"), cuda=False)
    with pytest.raises(ValueError, match="method 'full' needs backend 'full'"):
        train.resolve_backend(_setup(backend="peft"), cuda=False)
    with pytest.raises(ValueError, match="needs backend 'peft' or 'auto'"):
        train.resolve_backend(lora.model_copy(update={"backend": "full"}), cuda=False)
    with pytest.raises(RuntimeError, match="'qlora' .* needs a CUDA GPU"):
        train.resolve_backend(lora.model_copy(update={"method": "qlora"}), cuda=False)


def test_loss_mask_covers_exactly_the_response_and_eos(base, records):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    record = next(r for r in records if r["n_steps"] == 2)
    [example] = train.tokenize_records([record], tokenizer, "alpaca_short", max_length=512)
    masked = [t for t, m in zip(example["input_ids"], example["completion_mask"], strict=True) if m]
    assert masked[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(masked[:-1]) == record["output"]  # the response, nothing of the prompt
    assert example["input_ids"][0] == tokenizer.bos_token_id
    cut = train.tokenize_records([record], tokenizer, "alpaca_short", max_length=len(example["input_ids"]) - 2)
    assert len(cut[0]["input_ids"]) == len(example["input_ids"]) - 2
    prompt_only = len(example["input_ids"]) - len(masked)
    assert train.tokenize_records([record], tokenizer, "alpaca_short", max_length=prompt_only) == []


def test_full_training_learns_resumes_and_is_seeded(base, records, tmp_path, capfd):
    first = train.train(base, records, tmp_path / "a", _setup(max_steps=20), template="alpaca_short", seed=1)
    assert first["global_step"] == 20 and first["resumed_from"] is None
    # progress goes to the real stderr (the terminal under papermill/DVC), once per logging step
    assert "[train a] step 20/20 loss " in capfd.readouterr().err
    assert first["last_logged_loss"] < first["first_logged_loss"]
    # a finished run called again (a stage re-run after a code change) reloads its weights: no extra step
    digest = _weights_digest(tmp_path / "a" / "final")
    (tmp_path / "a" / "final" / "model.safetensors").unlink()
    again = train.train(base, records, tmp_path / "a", _setup(max_steps=20), template="alpaca_short", seed=1)
    assert again == {**first, "resumed_from": "checkpoint-20", "reloaded": True}
    assert _weights_digest(tmp_path / "a" / "final") == digest
    # a killed run restarted with the same output_dir continues from its last checkpoint
    more = train.train(base, records, tmp_path / "a", _setup(max_steps=30), template="alpaca_short", seed=1)
    assert more["resumed_from"] == "checkpoint-20" and more["global_step"] == 30
    # same seed, same data → same weights; another seed → different ones
    again = tmp_path / "b"
    train.train(base, records, again, _setup(max_steps=20), template="alpaca_short", seed=1)
    other = tmp_path / "c"
    train.train(base, records, other, _setup(max_steps=20), template="alpaca_short", seed=2)
    assert _weights_digest(tmp_path / "a" / "checkpoint-20") == _weights_digest(again / "checkpoint-20")
    assert _weights_digest(again / "final") != _weights_digest(other / "final")


def test_lora_on_cpu_has_nonzero_gradients_after_an_eval_pass_and_merges(base, records, tmp_path):
    """DESIGN trap: after an eval-mode forward, LoRA gradients must still be non-zero (fp32 LoRA on CPU)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base),
        LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "k_proj", "v_proj"]),
    )
    batch = tokenizer(["### Instruction:\nSort the items.\n\n### Response:\n1 2 3"], return_tensors="pt")
    model.eval()
    with torch.no_grad():
        model(**batch)
    model.train()
    # B starts at zero, so one step first; then A's gradient is non-zero too
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    for _ in range(2):
        optimizer.zero_grad()
        model(**batch, labels=batch["input_ids"]).loss.backward()
        grads = {n: p.grad.abs().sum().item() for n, p in model.named_parameters() if p.requires_grad}
        optimizer.step()
    assert grads and all(g > 0 for g in grads.values()), grads

    lora = _setup(
        method="lora", lora=LoraParams(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"])
    )
    summary = train.train(base, records, tmp_path / "lora", lora, template="alpaca_short", seed=0)
    assert summary["backend"] == "peft"
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "lora" / "final")  # plain loading: adapters merged
    original = AutoModelForCausalLM.from_pretrained(base)
    changed = {
        name for name, param in merged.state_dict().items() if not torch.equal(param, original.state_dict()[name])
    }
    assert changed and all(("q_proj" in n or "v_proj" in n) for n in changed), changed


def _conversation(record: dict) -> dict:
    steps = record["steps"]
    messages = [{"role": "user", "content": f"Do step one.\n\n{record['input']}"}]
    messages += [{"role": "assistant", "content": steps[0]["output"]}, {"role": "user", "content": "Now step two."}]
    return {"messages": [*messages, {"role": "assistant", "content": steps[1]["output"]}]}


def _masked_runs(example: dict) -> list[list[int]]:
    """The token runs the loss is on, in order."""
    runs, current = [], []
    for token, on in zip(example["input_ids"], example["completion_mask"], strict=True):
        if on:
            current.append(token)
        elif current:
            runs, current = [*runs, current], []
    return runs + ([current] if current else [])


def test_conversation_loss_is_on_every_assistant_turn_and_nothing_else(base, records):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    record = next(r for r in records if r["n_steps"] == 2)
    [example] = train.tokenize_conversations([_conversation(record)], tokenizer, "alpaca_short", max_length=512)
    first, second = _masked_runs(example)
    assert first[-1] == second[-1] == tokenizer.eos_token_id  # each turn ends, so the model learns to stop
    assert [tokenizer.decode(first[:-1]), tokenizer.decode(second[:-1])] == [s["output"] for s in record["steps"]]
    assert example["input_ids"][0] == tokenizer.bos_token_id
    text = tokenizer.decode(example["input_ids"])
    assert text.count("### Instruction:") == 2 and "Now step two." in text
    # a chat template: each turn is what rendering one more message adds; the replies and end-of-turn are trained
    tokenizer.chat_template = (
        "{{ bos_token }}{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{{ eos_token }}{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    [chat] = train.tokenize_conversations([_conversation(record)], tokenizer, "chat", max_length=512)
    first, second = _masked_runs(chat)
    assert tokenizer.decode(first) == record["steps"][0]["output"] + tokenizer.eos_token
    assert tokenizer.decode(second) == record["steps"][1]["output"] + tokenizer.eos_token
    assert chat["input_ids"].count(tokenizer.bos_token_id) == 1
    with pytest.raises(ValueError, match="mixes multi-turn"):
        train.tokenize([record, _conversation(record)], tokenizer, "alpaca_short", 512)


def test_training_on_conversations_learns(base, records, tmp_path):
    conversations = [_conversation(r) for r in records if r["n_steps"] == 2]
    summary = train.train(base, conversations, tmp_path / "m", _setup(max_steps=20), template="alpaca_short", seed=0)
    assert summary["global_step"] == 20 and summary["train_examples"] == len(conversations)
    assert summary["last_logged_loss"] < summary["first_logged_loss"]
