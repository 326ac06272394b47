"""The one place for the APIs that differ between the two tested sets of versions: the CPU set (constraints.txt:
transformers 5.24, trl 1.16) and the GPU set (constraints-gpu.txt: transformers 5.17, trl 1.15, which unsloth
accepts). Everything else the project calls is the same in both (checked by running the tests under each set).
"""

from __future__ import annotations

import dataclasses
from typing import Any


def checkpointing_args(enabled: bool) -> dict[str, bool]:
    """The `TrainingArguments` / `SFTConfig` field that turns activation checkpointing on: `activation_checkpointing`
    (transformers >= 5.2x, where `gradient_checkpointing` is its deprecated alias) or `gradient_checkpointing`."""
    from transformers import TrainingArguments

    names = {field.name for field in dataclasses.fields(TrainingArguments)}
    return {"activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing": enabled}


def enable_checkpointing(model: Any) -> None:
    """Turn activation checkpointing on for a transformers model (non-reentrant), under either name."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
