"""seqit_utils.train.compat under the installed versions (CI: the CPU set; run the same under the GPU set)."""

from __future__ import annotations


def test_checkpointing_argument_is_accepted_and_takes_effect(tmp_path):
    from trl import SFTConfig

    from seqit_utils.train.compat import checkpointing_args

    config = SFTConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none", **checkpointing_args(True))
    assert getattr(config, next(iter(checkpointing_args(True)))) is True


def test_enable_checkpointing_on_a_model():
    from transformers import LlamaConfig, LlamaForCausalLM

    from seqit_utils.train.compat import enable_checkpointing

    model = LlamaForCausalLM(
        LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2)
    )
    enable_checkpointing(model)
    flag = getattr(model, "is_activation_checkpointing", None)
    assert flag if flag is not None else model.is_gradient_checkpointing
