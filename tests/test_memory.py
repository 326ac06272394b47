"""The memory estimator (seqit_utils.train.memory): shapes checked against transformers' own models, and the
weights + gradients + optimizer terms against the exact tensor bytes of a real training step on CPU."""

from __future__ import annotations

import json

import pytest

from seqit_utils.config import TrainSetup
from seqit_utils.train.memory import SHAPES, estimate, resolve_shape, shape_from_config

TINY = {
    "vocab_size": 96,
    "hidden_size": 64,
    "intermediate_size": 160,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,  # grouped-query attention, as in Llama-3 and Mistral
    "tie_word_embeddings": False,
}
SETUP = {
    "learning_rate": 1e-3,
    "num_train_epochs": 1.0,
    "per_device_train_batch_size": 2,
    "lr_scheduler_type": "constant",
    "max_length": 16,
}


@pytest.mark.parametrize("key", sorted(SHAPES))
def test_builtin_shapes_match_the_models_transformers_builds(key):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    shape = SHAPES[key]
    config = LlamaConfig(
        vocab_size=shape.vocab_size,
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_hidden_layers,
        num_attention_heads=shape.num_attention_heads,
        num_key_value_heads=shape.num_key_value_heads,
        tie_word_embeddings=shape.tie_word_embeddings,
    )
    with torch.device("meta"):  # shapes only, no memory
        model = LlamaForCausalLM(config)
    assert shape.n_params == sum(p.numel() for p in model.parameters())


def test_published_parameter_counts():
    # The sizes the model cards give: Llama-3-8B 8.03B, Mistral-7B 7.24B, Llama-2 6.74B / 13.0B.
    assert [round(SHAPES[k].n_params / 1e9, 2) for k in ("llama3_8b", "mistral_7b", "llama2_7b", "llama2_13b")] == [
        8.03,
        7.24,
        6.74,
        13.02,
    ]


def _step_bytes(model, optimizer, steps: int = 3) -> int:
    """Exact bytes of parameters, gradients and optimizer state after `steps` real AdamW steps."""
    import torch

    torch.manual_seed(0)
    for _ in range(steps):
        ids = torch.randint(0, TINY["vocab_size"], (SETUP["per_device_train_batch_size"], SETUP["max_length"]))
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    grads = sum(p.grad.numel() * p.grad.element_size() for p in model.parameters() if p.grad is not None)
    state = sum(
        t.numel() * t.element_size() for s in optimizer.state.values() for t in s.values() if torch.is_tensor(t)
    )
    return params + grads + state


def _tiny_model():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(**TINY))


def test_full_fine_tuning_states_match_a_real_step(one_torch_thread):
    import torch

    model = _tiny_model()
    measured = _step_bytes(model, torch.optim.AdamW(model.parameters(), lr=1e-3))
    shape = shape_from_config(TINY, "tiny")
    estimated = estimate(shape, TrainSetup(method="full", **SETUP)).states
    # AdamW also keeps a 4-byte `step` per tensor: the only difference, well under 0.1%.
    assert abs(measured - estimated) / measured < 1e-3, (measured, estimated)


def test_lora_states_match_a_real_step(one_torch_thread):
    import torch
    from peft import LoraConfig, get_peft_model

    lora = {"r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": ["q_proj", "k_proj", "v_proj"]}
    model = get_peft_model(_tiny_model(), LoraConfig(task_type="CAUSAL_LM", **lora))
    trainable = [p for p in model.parameters() if p.requires_grad]
    measured = _step_bytes(model, torch.optim.AdamW(trainable, lr=1e-3))
    shape = shape_from_config(TINY, "tiny")
    assert shape.lora_params(4, lora["target_modules"]) == sum(p.numel() for p in trainable)
    estimated = estimate(shape, TrainSetup(method="lora", lora=lora, **SETUP)).states
    assert abs(measured - estimated) / measured < 1e-3, (measured, estimated)


def test_sharding_divides_states_and_ddp_adds_buckets():
    shape = SHAPES["llama3_8b"]
    full = TrainSetup(method="full", bf16=True, **SETUP)
    one = estimate(shape, full, 1)
    four = estimate(shape, full.model_copy(update={"distributed": "fsdp"}), 4)
    assert four.states == pytest.approx(one.states / 4)
    assert four.activations == one.activations  # every GPU still holds its own micro-batch
    ddp = estimate(shape, full.model_copy(update={"distributed": "ddp"}), 4)
    assert ddp.states == one.states and ddp.extra == one.gradients


def test_checkpointing_and_quantisation_shrink_the_estimate():
    shape = SHAPES["llama3_8b"]
    lora = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.05, "target_modules": ["q_proj", "k_proj", "v_proj"]}
    setup = TrainSetup(method="lora", lora=lora, bf16=True, **SETUP)
    e = estimate(shape, setup)
    assert e.activations < e.activations_no_ckpt
    q = estimate(shape, setup.model_copy(update={"method": "qlora"}))
    # 4-bit linear layers (~1/4 of 16-bit) but embeddings and lm_head upcast to fp32 by peft's k-bit preparation
    assert e.weights / 3 < q.weights < e.weights / 2


def test_resolve_shape_reads_a_local_config(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(TINY))
    assert resolve_shape(str(tmp_path)) == shape_from_config(TINY, str(tmp_path))
    assert resolve_shape("meta-llama/Meta-Llama-3-8B") is SHAPES["llama3_8b"]
    with pytest.raises(ValueError, match="no built-in shape"):
        resolve_shape("someone/unknown-model")
