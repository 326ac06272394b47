"""Training on the CPU with the real stack (transformers + peft + trl) on a tiny model: response-only loss,
backend choice, LoRA gradients, resume from a checkpoint, seeded determinism, fp32 master weights under bf16
autocast, v1's dev set and best checkpoint, adapter merging, unsloth's import order."""

from __future__ import annotations

import hashlib

import pytest
import torch

from seqit_utils import prompts
from seqit_utils.config import LoraParams, TrainSetup
from seqit_utils.data import tasks
from seqit_utils.train import backends, examples, tiny
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
    assert train.resolve_backend(full, cuda=True) == "full"  # full fine-tuning never goes to unsloth
    assert train.resolve_backend(lora.model_copy(update={"distributed": "ddp"}), cuda=True) == "peft"
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
    [example] = examples.tokenize_records([record], tokenizer, "alpaca_short", max_length=512)
    masked = [t for t, m in zip(example["input_ids"], example["completion_mask"], strict=True) if m]
    assert masked[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(masked[:-1]) == record["output"]  # the response, nothing of the prompt
    assert example["input_ids"][0] == tokenizer.bos_token_id
    cut = examples.tokenize_records([record], tokenizer, "alpaca_short", max_length=len(example["input_ids"]) - 2)
    assert len(cut[0]["input_ids"]) == len(example["input_ids"]) - 2
    prompt_only = len(example["input_ids"]) - len(masked)
    assert examples.tokenize_records([record], tokenizer, "alpaca_short", max_length=prompt_only) == []


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
    [example] = examples.tokenize_conversations([_conversation(record)], tokenizer, "alpaca_short", max_length=512)
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
    [chat] = examples.tokenize_conversations([_conversation(record)], tokenizer, "chat", max_length=512)
    first, second = _masked_runs(chat)
    assert tokenizer.decode(first) == record["steps"][0]["output"] + tokenizer.eos_token
    assert tokenizer.decode(second) == record["steps"][1]["output"] + tokenizer.eos_token
    assert chat["input_ids"].count(tokenizer.bos_token_id) == 1
    with pytest.raises(ValueError, match="mixes multi-turn"):
        examples.tokenize([record, _conversation(record)], tokenizer, "alpaca_short", 512)


def test_training_on_conversations_learns(base, records, tmp_path):
    conversations = [_conversation(r) for r in records if r["n_steps"] == 2]
    summary = train.train(base, conversations, tmp_path / "m", _setup(max_steps=20), template="alpaca_short", seed=0)
    assert summary["global_step"] == 20 and summary["train_examples"] == len(conversations)
    assert summary["last_logged_loss"] < summary["first_logged_loss"]


def _state(folder) -> dict[str, torch.Tensor]:
    from transformers import AutoModelForCausalLM

    return {
        n: p.float() for n, p in AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).state_dict().items()
    }


def _changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> float:
    """The fraction of weights that differ between two state dicts."""
    changed = sum(int((after[name].float() != weight).sum()) for name, weight in before.items())
    return changed / sum(weight.numel() for weight in before.values())


def test_fp32_master_weights_keep_the_updates_that_bf16_weights_lose(base, records, tmp_path, capsys):
    """Issue 18: full fine-tuning loaded bf16 weights (dtype "auto" of a bf16 checkpoint) and updated them in bf16.
    The new path loads fp32 master weights and computes in bf16 under autocast: as many weights change as in a pure
    fp32 run, while bf16 weights swallow most updates of lr 2e-5 (the paper's v3 learning rate) in rounding."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer

    published = tmp_path / "bf16-checkpoint"  # Llama-3 and Mistral are published in bf16
    AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16).save_pretrained(published)
    AutoTokenizer.from_pretrained(base).save_pretrained(published)
    start = _state(published)
    fp32 = _setup(learning_rate=2e-5, max_steps=10, save_steps=10)
    mixed = fp32.model_copy(update={"bf16": True})
    assert backends.load_dtype(mixed, cuda=False) == backends.load_dtype(mixed, cuda=True) == torch.float32
    train.train(published, records, tmp_path / "fp32", fp32, template="alpaca_short", seed=0)
    train.train(published, records, tmp_path / "mixed", mixed, template="alpaca_short", seed=0)

    old = AutoModelForCausalLM.from_pretrained(published)  # the old path: no dtype given
    assert old.dtype == torch.bfloat16
    tokenizer = AutoTokenizer.from_pretrained(published)
    data = Dataset.from_list(examples.tokenize(records, tokenizer, "alpaca_short", mixed.max_length))
    args = train.sft_config(mixed, tmp_path / "old", seed=0, has_eval=False, cuda=False)
    SFTTrainer(model=old, args=args, train_dataset=data, processing_class=tokenizer).train()

    fractions = {
        "fp32": _changed(start, _state(tmp_path / "fp32" / "final")),
        "fp32 master + bf16 autocast": _changed(start, _state(tmp_path / "mixed" / "final")),
        "bf16 weights (old path)": _changed(start, {n: p.float() for n, p in old.state_dict().items()}),
    }
    with capsys.disabled():
        print(
            "\nchanged weights after 10 steps at lr 2e-5: " + ", ".join(f"{k} {v:.1%}" for k, v in fractions.items())
        )
    values = list(fractions.values())
    assert values[0] > 0.5
    assert abs(values[1] - values[0]) < 0.02
    assert values[2] < 0.5 * values[0]


def test_v1_dev_split_is_evaluated_and_the_best_checkpoint_is_what_is_saved(base, records, tmp_path):
    """v1 keeps the checkpoint with the best dev cross-entropy: a held-out share of the training records is
    evaluated at every save, and the final model is the best checkpoint, not the last (here the model overfits its
    28 training records after the first save, so the best one is early)."""
    import json

    train_part, dev = train.dev_split(records[:40], 0.3, seed=0)
    assert len(dev) == 12 and len(train_part) == 28 and not {id(r) for r in dev} & {id(r) for r in train_part}
    assert train.dev_split(records[:40], 0.3, seed=0) == (train_part, dev)  # seeded
    setup = _setup(learning_rate=3e-2, max_steps=30, per_device_train_batch_size=8, save_steps=5)
    setup = setup.model_copy(update={"load_best_model_at_end": True, "dev_fraction": 0.3})
    summary = train.train(base, records[:40], tmp_path / "v1", setup, template="alpaca_short", seed=0)
    assert summary["eval_examples"] == 12 and summary["train_examples"] == 28
    state = json.loads((tmp_path / "v1" / "checkpoint-30" / "trainer_state.json").read_text())
    evals = {log["step"]: log["eval_loss"] for log in state["log_history"] if "eval_loss" in log}
    assert sorted(evals) == [5, 10, 15, 20, 25, 30]  # evaluated at every save
    best_step = min(evals, key=evals.get)
    assert best_step != 30 and summary["best_checkpoint"] == f"checkpoint-{best_step}"
    assert summary["best_eval_loss"] == pytest.approx(evals[best_step])
    final = _state(tmp_path / "v1" / "final")
    best, last = _state(tmp_path / "v1" / f"checkpoint-{best_step}"), _state(tmp_path / "v1" / "checkpoint-30")
    assert all(torch.equal(final[n], best[n]) for n in final)
    assert not all(torch.equal(final[n], last[n]) for n in final)


def test_adapters_merge_into_a_reload_of_the_base_with_the_outputs_of_base_plus_adapter(base):
    """QLoRA's merge path: adapters saved and merged into a fresh full-precision load of the base. bitsandbytes'
    4-bit layers cannot run here (CPU), so plain LoRA on the fp32 base stands in for the 4-bit training model; the
    reload-and-merge code is the one QLoRA uses."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"])
    adapted = get_peft_model(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), config)
    for name, param in adapted.named_parameters():
        if "lora_B" in name:  # B starts at zero; a trained adapter has moved it
            torch.nn.init.normal_(param, std=0.05)
    batch = AutoTokenizer.from_pretrained(base)(
        ["### Instruction:\nSort the items.\n\n### Response:\n"], return_tensors="pt"
    )
    with torch.no_grad():
        expected = adapted(**batch).logits
        plain = AutoModelForCausalLM.from_pretrained(base)(**batch).logits
        merged = backends.merge_lora(adapted, base, reload=True, dtype=torch.float32)
        got = merged(**batch).logits
    assert type(merged).__name__ == "LlamaForCausalLM" and not any("lora" in n for n, _ in merged.named_parameters())
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(plain, expected, atol=1e-3)  # the adapter matters, so the equality above means something


def test_precision_follows_the_setup():
    full, lora = (
        _setup(bf16=True),
        _setup(method="lora", lora=LoraParams(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj"])),
    )
    t4 = lora.model_copy(update={"method": "qlora", "fp16": True})
    assert backends.mixed_precision(full, cuda=False) == {"bf16": True, "fp16": False, "use_cpu": True}
    assert backends.load_dtype(full, cuda=True) == torch.float32  # fp32 master weights
    assert backends.load_dtype(lora.model_copy(update={"bf16": True}), cuda=True) == torch.bfloat16  # frozen base
    assert backends.load_dtype(lora, cuda=False) == torch.float32
    assert backends.quantization_config(t4, cuda=True).bnb_4bit_compute_dtype == torch.float16  # T4: no bf16
    a100 = t4.model_copy(update={"fp16": False, "bf16": True})
    assert backends.quantization_config(a100, cuda=True).bnb_4bit_compute_dtype == torch.bfloat16
    with pytest.raises(RuntimeError, match="fp16 needs a CUDA GPU"):
        backends.mixed_precision(_setup(fp16=True), cuda=False)
    with pytest.raises(ValueError, match="at most one of bf16 and fp16"):
        backends.compute_dtype(_setup(fp16=True, bf16=True), cuda=True)


def test_unsloth_is_imported_before_trl_transformers_and_peft_and_its_absence_names_the_install():
    """unsloth patches transformers/trl on import: importing the training modules must not import them, and the
    backend import asks for unsloth before anything else (here unsloth is absent: a clear error)."""
    import subprocess
    import sys

    script = """
import importlib.abc, sys
order = []
class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        top = name.split(".")[0]
        if top in ("unsloth", "trl", "transformers", "peft") and top not in order:
            order.append(top)
        return None
sys.meta_path.insert(0, Spy())
from seqit_utils.config import load_config
from seqit_utils.train import backends, experiment, runs, trainer  # notebook 05 imports runs and trainer
print(list(order))
try:
    backends.import_backend("unsloth")
except RuntimeError as err:
    print(err)
print(list(order))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "[]"  # nothing of trl/transformers/peft yet when train() calls import_backend
    assert out[1].startswith(
        "backend 'unsloth' needs the unsloth package: pip install -e '.[gpu]' -c constraints-gpu.txt"
    )
    assert out[2] == "['unsloth']"
