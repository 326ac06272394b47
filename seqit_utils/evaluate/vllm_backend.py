"""vLLM's offline batch engine behind the generator interface: `VLLMGenerator.generate(prompts) -> completions`,
the same inputs and outputs as `generate.HFGenerator` (issue 18: ~13K XQuAD prompts plus CSQA, MGSM, SeqEval and
AlpacaEval per run, for ~20 runs, are hours with HF `generate` and minutes with vLLM).

Same as the HF backend: prompts are encoded as in training (BOS, then the prompt without special tokens) and sent as
token ids, so both backends see identical inputs; greedy decoding; generation ends at every EOS id of the tokenizer
and the model's generation config, and at the first stop string; the returned text is the new text, truncated at
the first stop string. vLLM is imported only when a generator is built; it needs a GPU and is not exercised in this
project's CI (no GPU there): the tests check the request and response mapping below with the engine left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seqit_utils.evaluate.generate import DEFAULT_STOP, encode_prompt, eos_ids, truncate_at_stop

INSTALL = "pip install -e '.[gpu]' -c constraints-gpu.txt"


def requests(tokenizer: Any, prompts: Sequence[str]) -> list[dict[str, list[int]]]:
    """vLLM prompt inputs (`TokensPrompt` dicts), one per prompt, in input order."""
    return [{"prompt_token_ids": encode_prompt(tokenizer, p)} for p in prompts]


def sampling_options(max_new_tokens: int, stop: Sequence[str], stop_ids: Sequence[int]) -> dict[str, Any]:
    """`vllm.SamplingParams` fields for greedy decoding capped at `max_new_tokens`."""
    return {
        "temperature": 0.0,
        "max_tokens": max_new_tokens,
        "stop": [s for s in stop if s],
        "stop_token_ids": list(stop_ids),
        "skip_special_tokens": True,
    }


def completions(outputs: Sequence[Any], stop: Sequence[str]) -> list[str]:
    """The text of each `RequestOutput` (first candidate), truncated at the first stop string (vLLM already stops
    there; the truncation makes the output the same by definition as the HF backend's)."""
    return [truncate_at_stop(output.outputs[0].text, stop) for output in outputs]


def _vllm() -> Any:
    try:
        import vllm
    except ModuleNotFoundError as err:
        raise RuntimeError(f"generation backend 'vllm' needs vLLM (a GPU): {INSTALL} ({err})") from err
    return vllm


class VLLMGenerator:
    """Greedy completions of a local model with vLLM; see the module docstring.

    `tensor_parallel_size` splits one model over several GPUs; `gpu_memory_utilization` is vLLM's share of each
    GPU for weights and KV cache; `dtype` "auto" is the checkpoint's (bf16 on most GPUs; vLLM picks fp16 on a T4).
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        max_new_tokens: int = 64,
        stop: Sequence[str] = DEFAULT_STOP,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        dtype: str = "auto",
        seed: int = 0,
        progress: bool = True,
    ):
        self._vllm = _vllm()
        if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens: expected a positive integer, got {max_new_tokens!r}")
        self.llm = self._vllm.LLM(
            model=str(model_path),
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            dtype=dtype,
            seed=seed,
        )
        self.tokenizer = self.llm.get_tokenizer()
        self.eos_ids = eos_ids(self.tokenizer, self.llm.llm_engine.model_config.hf_config.eos_token_id)
        self.max_new_tokens, self.stop, self.progress = max_new_tokens, tuple(stop), progress

    def generate(self, prompts: list[str]) -> list[str]:
        """Greedy completions of `prompts`, in input order (vLLM returns them in request order)."""
        params = self._vllm.SamplingParams(**sampling_options(self.max_new_tokens, self.stop, self.eos_ids))
        outputs = self.llm.generate(requests(self.tokenizer, prompts), params, use_tqdm=self.progress)
        return completions(outputs, self.stop)
