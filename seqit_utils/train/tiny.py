"""The tiny model of the `smoke`/`sample` profiles: a tokenizer trained locally on the profile's data and a
Llama-architecture model built from config (DESIGN: the miniature experiment). Nothing is downloaded.

Tokenizer choices (DESIGN, "API facts"): byte-level BPE gives `apple` and `Ġapple` different ids, which makes copying
hard for a model trained from scratch. We split on newlines first (a newline is always its own token, so the
prompt/completion boundary never merges), then use Metaspace word pieces and split punctuation. Decoding is exact:
`decode(encode(text)) == text`, which the exact-match metrics rely on.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

SPECIAL_TOKENS = {"pad_token": "<pad>", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}


def train_tokenizer(texts: Iterable[str], vocab_size: int, model_max_length: int) -> Any:
    """A BPE tokenizer trained on `texts` (deterministic for the same texts), as a transformers fast tokenizer.

    Left padding is set in the constructor: as an attribute set later it would not be saved.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk_token"]))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split("\n", behavior="isolated"),
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first"),
            pre_tokenizers.Punctuation(),
        ]
    )
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS.values()), show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, padding_side="left", model_max_length=model_max_length, **SPECIAL_TOKENS
    )


def build_model(tokenizer: Any, *, seed: int, architecture: str = "llama", **llama_config: Any) -> Any:
    """A randomly initialised `LlamaForCausalLM` (or `MistralForCausalLM`: `architecture="mistral"`, the stand-in for
    Mistral-7B in `seqit dry-run`) in fp32 whose vocabulary is exactly the tokenizer's.

    `llama_config` takes transformers `LlamaConfig` names (hidden_size, num_hidden_layers, ...), which MistralConfig
    shares; `vocab_size` there is the tokenizer's target size and is replaced by the trained tokenizer's real size.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM

    classes = {"llama": (LlamaConfig, LlamaForCausalLM), "mistral": (MistralConfig, MistralForCausalLM)}
    if architecture not in classes:
        raise ValueError(f"architecture = {architecture!r}; allowed values: {', '.join(classes)}")
    config_class, model_class = classes[architecture]
    # every head its own key/value head (MistralConfig would default to 8 key/value heads)
    llama_config = {"num_key_value_heads": llama_config.get("num_attention_heads"), **llama_config}
    llama_config["vocab_size"] = len(tokenizer)
    config = config_class(
        **llama_config,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    return model_class(config)


def build_tiny(texts: Iterable[str], out_dir: str | Path, *, seed: int, **tiny_config: Any) -> Path:
    """Train the tokenizer on `texts`, build the model, and save both to `out_dir` (loadable with Auto* classes)."""
    tokenizer = train_tokenizer(texts, tiny_config["vocab_size"], tiny_config["max_position_embeddings"])
    model = build_model(tokenizer, seed=seed, **tiny_config)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
