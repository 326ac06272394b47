"""The training backends at run time: what each imports (unsloth before trl/transformers), the precision weights are
loaded and trained in, and how LoRA adapters become a plain model.

Precision (DESIGN "Training setups"; issue 18): full fine-tuning keeps fp32 master weights and optimizer state and
computes in bf16 (or fp16 on GPUs without bf16, e.g. the T4) under autocast (`TrainingArguments` `bf16`/`fp16`).
Weights loaded in bf16 and updated in bf16 lose most small updates to rounding: an update below half a bf16 ulp
of the weight (2**-9 of it) leaves the weight unchanged. LoRA keeps the frozen base in the compute dtype on a GPU
(peft creates the adapters in fp32); QLoRA loads the base in 4 bit with the setup's compute dtype, and its
adapters are merged into a 16-bit reload of the base, never into the 4-bit weights (that merge is lossy).
On CPU everything is fp32 unless the setup asks for bf16 (torch's CPU autocast).
"""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path
from typing import Any

from seqit_utils.config import TrainSetup

GPU_INSTALL = "pip install -e '.[gpu]' -c constraints-gpu.txt"


def import_backend(backend: str) -> None:
    """Import what `backend` patches before anything imports trl, transformers or peft.

    unsloth patches transformers and trl when it is imported; imported after them, its kernels are silently
    bypassed. Called by `trainer.train` before its own transformers/trl imports.
    """
    if backend != "unsloth":
        return
    try:
        importlib.import_module("unsloth")
    except ModuleNotFoundError as err:
        raise RuntimeError(f"backend 'unsloth' needs the unsloth package: {GPU_INSTALL} ({err})") from err


def compute_dtype(setup: TrainSetup, *, cuda: bool) -> Any:
    """The dtype the forward and backward passes run in: fp16 (setup.fp16, T4), bf16 (setup.bf16), else fp32."""
    import torch

    if setup.fp16 and setup.bf16:
        raise ValueError("train setup: set at most one of bf16 and fp16 (fp16 is for GPUs without bf16, e.g. T4)")
    if setup.fp16 and not cuda:
        raise RuntimeError("train setup: fp16 needs a CUDA GPU; on CPU set fp16: false (and bf16 if you want it)")
    return torch.float16 if setup.fp16 else torch.bfloat16 if setup.bf16 else torch.float32


def load_dtype(setup: TrainSetup, *, cuda: bool) -> Any:
    """The dtype weights are loaded in: fp32 master weights for full fine-tuning (and on CPU); for LoRA on a GPU
    the frozen base in the compute dtype (its adapters are fp32: peft's `autocast_adapter_dtype`)."""
    import torch

    dtype = compute_dtype(setup, cuda=cuda)
    return dtype if cuda and setup.method != "full" else torch.float32


def mixed_precision(setup: TrainSetup, *, cuda: bool) -> dict[str, bool]:
    """`TrainingArguments` fields: autocast to the compute dtype, fp32 weights (`use_cpu` lets bf16 run on CPU)."""
    compute_dtype(setup, cuda=cuda)  # validates the pair
    return {"bf16": setup.bf16, "fp16": setup.fp16, "use_cpu": not cuda}


def quantization_config(setup: TrainSetup, *, cuda: bool) -> Any:
    """QLoRA's 4-bit NF4 base with double quantisation, computing in the setup's dtype (fp16 on a T4)."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype(setup, cuda=cuda),
    )


def load(model_path: str | Path, setup: TrainSetup, backend: str, seed: int, *, cuda: bool) -> tuple[Any, Any]:
    """The model to train (with its LoRA adapters for lora/qlora) and its tokenizer."""
    if backend == "unsloth":
        from unsloth import FastLanguageModel  # imported first by `import_backend`

        model, tokenizer = FastLanguageModel.from_pretrained(
            str(model_path),
            max_seq_length=setup.max_length,
            load_in_4bit=setup.method == "qlora",
            dtype=compute_dtype(setup, cuda=cuda),
        )
        model = FastLanguageModel.get_peft_model(  # unsloth trains adapters only (`trainer.resolve_backend`)
            model,
            r=setup.lora.r,
            lora_alpha=setup.lora.lora_alpha,
            lora_dropout=setup.lora.lora_dropout,
            target_modules=list(setup.lora.target_modules),
            random_state=seed,
        )
        return model, tokenizer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    # never "auto" (the checkpoint's dtype): full fine-tuning of a bf16 checkpoint gets fp32 master weights
    kwargs: dict[str, Any] = {"dtype": load_dtype(setup, cuda=cuda)}
    if setup.method == "qlora":
        kwargs = {
            "quantization_config": quantization_config(setup, cuda=cuda),
            "dtype": compute_dtype(setup, cuda=cuda),
        }
    model = AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
    if setup.method != "full":
        from peft import LoraConfig, get_peft_model

        if setup.method == "qlora":
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        lora = setup.lora
        config = LoraConfig(
            r=lora.r,
            lora_alpha=lora.lora_alpha,
            lora_dropout=lora.lora_dropout,
            target_modules=list(lora.target_modules),
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, config)
    return model, tokenizer


def merge_lora(model: Any, base_path: str | Path, *, reload: bool, dtype: Any = None) -> Any:
    """A plain model with the adapters of the peft `model` merged in.

    `reload=False`: merged into the model's own base (LoRA: the base is the full-precision one). `reload=True`
    (QLoRA): the adapters are saved and applied to a fresh load of `base_path` in `dtype`, then merged, so the
    merged weights are base + BA in 16/32 bit rather than a re-rounded 4-bit base.
    """
    if not reload:
        return model.merge_and_unload()
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=dtype)
    with tempfile.TemporaryDirectory() as adapter:
        model.save_pretrained(adapter)  # the adapter weights and config only
        return PeftModel.from_pretrained(base, adapter).merge_and_unload()
