"""Generation: one interface, `Generator.generate(prompts) -> completions`, three backends.

- `HFGenerator`: a local transformers model, batched greedy decoding on its device (CUDA when there is one).
- `VLLMGenerator` (`vllm_backend`): a local model through vLLM's offline batch engine (GPU only; the paper's scale).
- `OpenAIGenerator`: any OpenAI-compatible endpoint (OpenAI, vLLM, `transformers serve`, ...) through `openai`.

`local_generator` builds the local one a params `experiment.generation.backend` (hf | vllm) names, with the stop
strings of the model's prompt template (`seqit_utils.prompts.stop_strings`).

Both return only the new text, cut at the first stop string; prompts are the fully formatted strings of
`seqit_utils.prompts`. Greedy decoding is the paper's evaluation setting (temperature 0).

Stop strings (HF backend): the output is *defined* by post-hoc truncation of the decoded continuation at the first
stop string. A small stopping criterion applies the same test during decoding, so each sequence ends as soon as it
has emitted a stop string (and a batch ends when all have). We do not use transformers' `stop_strings`: it matches
on the token sequence including the prompt, so it can stop on a string that straddles the prompt boundary, which the
truncation would then not cut, and batched results would depend on where the prompt ended.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlparse

from tqdm.auto import tqdm

DEFAULT_STOP = ("\n\n###",)  # Alpaca layout: a model that runs on starts a new "### Instruction:" block
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


@runtime_checkable
class Generator(Protocol):
    """Anything that turns formatted prompts into completions, one per prompt, in input order."""

    def generate(self, prompts: list[str]) -> list[str]: ...


def default_device() -> str:
    """The device to generate on: `cuda` when a GPU is there, else `cpu`."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def inference_dtype(device: str) -> Any:
    """fp32 on CPU (DESIGN: bf16 is slower there and meets the AVX512-BF16 trap); on a GPU bf16, or fp16 where
    there is no bf16 (T4). Never the checkpoint's own dtype: full fine-tuning saves fp32 master weights."""
    import torch

    if not device.startswith("cuda"):
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def encode_prompt(tokenizer: Any, prompt: str) -> list[int]:
    """Token ids of one prompt as the model was trained on it: BOS (if the tokenizer has one) + the prompt."""
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    bos = tokenizer.bos_token_id
    return [bos, *ids] if bos is not None and ids[:1] != [bos] else ids  # a chat template may write BOS itself


def eos_ids(tokenizer: Any, generation_eos: int | list[int] | None) -> list[int]:
    """Every id that ends an answer: the tokenizer's EOS and the generation config's (e.g. Llama-3's <|eot_id|>)."""
    extra = [generation_eos] if isinstance(generation_eos, int) else list(generation_eos or [])
    return [e for e in dict.fromkeys([tokenizer.eos_token_id, *extra]) if e is not None]


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """`text` up to (excluding) the earliest occurrence of any stop string."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=len(text))
    return text[:cut]


class _StopOnText:
    """Stopping criterion: a sequence is done once its decoded continuation contains a stop string.

    A plain callable (transformers' `StoppingCriteriaList` is a list of callables returning a bool per row), so that
    importing this module does not import transformers.
    """

    def __init__(self, tokenizer: Any, prompt_len: int, stop: Sequence[str]):
        self.tokenizer, self.prompt_len, self.stop = tokenizer, prompt_len, [s for s in stop if s]

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_len :], skip_special_tokens=True)
        done = [any(s in text for s in self.stop) for text in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class HFGenerator:
    """Batched greedy decoding with a local transformers causal LM.

    Prompts are encoded as in training (`seqit_utils.train.examples.tokenize_records`): BOS, then the prompt without
    special tokens. They are sorted by length into batches (less padding), left-padded by hand (independent of the
    tokenizer's `padding_side`) and returned in input order. `max_new_tokens` is a hard cap: instruction-tuned models
    often never emit EOS on unfamiliar prompts. Generation stops at EOS (the tokenizer's and every EOS id of the
    model's generation config, e.g. Llama-3's `<|eot_id|>`) and at the first stop string.
    """

    def __init__(
        self,
        model_or_path: Any,
        tokenizer: Any = None,
        *,
        batch_size: int = 32,
        max_new_tokens: int = 64,
        stop: Sequence[str] = DEFAULT_STOP,
        device: str | None = None,
        progress: bool = True,
    ):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if isinstance(model_or_path, (str, Path)):
            if tokenizer is None:
                tokenizer = AutoTokenizer.from_pretrained(model_or_path)
            device = device or default_device()
            model_or_path = AutoModelForCausalLM.from_pretrained(model_or_path, dtype=inference_dtype(device))
            model_or_path = model_or_path.to(device)
        elif tokenizer is None:
            raise ValueError("HFGenerator: a model object needs its `tokenizer`; or pass a model directory")
        for name, value in (("batch_size", batch_size), ("max_new_tokens", max_new_tokens)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        self.model, self.tokenizer = model_or_path.eval(), tokenizer
        self.batch_size, self.max_new_tokens, self.stop = batch_size, max_new_tokens, tuple(stop)
        self.progress = progress
        self.eos_ids = eos_ids(tokenizer, self.model.generation_config.eos_token_id)
        if not self.eos_ids:
            raise ValueError("HFGenerator: neither the tokenizer nor the model's generation config has an EOS token")
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_ids[0]

    def __repr__(self) -> str:
        name = getattr(self.model, "name_or_path", type(self.model).__name__)
        return (
            f"HFGenerator({name!r}, batch_size={self.batch_size}, max_new_tokens={self.max_new_tokens}, "
            f"stop={self.stop!r})"
        )

    def encode(self, prompt: str) -> list[int]:
        """Token ids of one prompt as the model was trained on it (`encode_prompt`)."""
        return encode_prompt(self.tokenizer, prompt)

    def generate(self, prompts: list[str]) -> list[str]:
        """Greedy completions of `prompts`, in input order."""
        import torch

        encoded = [self.encode(p) for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))  # longest first: memory errors show early
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        results: list[str] = [""] * len(prompts)
        device = self.model.device
        with torch.inference_mode():
            for batch in tqdm(batches, desc="generate", unit="batch", disable=not self.progress):
                width = max(len(encoded[i]) for i in batch)
                input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
                attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):  # left padding: every prompt ends where generation starts
                    input_ids[row, width - len(encoded[i]) :] = torch.tensor(encoded[i])
                    attention_mask[row, width - len(encoded[i]) :] = 1
                output = self.model.generate(
                    input_ids=input_ids.to(device),
                    attention_mask=attention_mask.to(device),
                    do_sample=False,
                    max_new_tokens=self.max_new_tokens,
                    pad_token_id=self.pad_id,
                    eos_token_id=self.eos_ids,
                    stopping_criteria=[_StopOnText(self.tokenizer, width, self.stop)] if self.stop else None,
                )
                for row, i in enumerate(batch):
                    new = output[row, width:].tolist()
                    ends = [new.index(e) for e in self.eos_ids if e in new]
                    text = self.tokenizer.decode(new[: min(ends, default=len(new))], skip_special_tokens=True)
                    results[i] = truncate_at_stop(text, self.stop)
        return results


def api_key(env_name: str, base_url: str) -> str:
    """The API key from the environment variable `env_name`; "EMPTY" for a loopback server (vLLM, `transformers
    serve`) when it is unset; otherwise a RuntimeError naming the variable (never a value)."""
    key = os.environ.get(env_name)
    if key:
        return key
    if urlparse(base_url).hostname not in LOCAL_HOSTS:
        raise RuntimeError(f"environment variable {env_name} is not set; it must hold the API key for {base_url}")
    return "EMPTY"


class OpenAIGenerator:
    """Completions from an OpenAI-compatible endpoint, `concurrency` requests at a time, in input order.

    `mode="completions"` sends the formatted prompt as is (`/v1/completions`: base models and our templates);
    `mode="chat"` sends it as one user message (`/v1/chat/completions`: the server applies its chat template).
    The API key is read from the environment variable `api_key_env` when `generate` runs and is never stored on the
    object; for a server on this machine a missing variable means the dummy key "EMPTY" (vLLM and `transformers
    serve` ignore it). Retries on rate limits, timeouts and 5xx are the `openai` client's own (`max_retries`).
    """

    MODES = ("completions", "chat")

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        mode: str = "completions",
        max_new_tokens: int = 64,
        stop: Sequence[str] = DEFAULT_STOP,
        temperature: float = 0.0,
        seed: int | None = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 2,
        progress: bool = True,
    ):
        if mode not in self.MODES:
            raise ValueError(f"mode = {mode!r} is unknown; allowed values: {', '.join(self.MODES)}")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency: expected a positive integer, got {concurrency!r}")
        self.base_url, self.model, self.api_key_env, self.mode = base_url, model, api_key_env, mode
        self.max_new_tokens, self.stop, self.temperature, self.seed = max_new_tokens, tuple(stop), temperature, seed
        self.concurrency, self.timeout, self.max_retries, self.progress = concurrency, timeout, max_retries, progress

    def __repr__(self) -> str:  # names the variable, never its value
        return (
            f"OpenAIGenerator(base_url={self.base_url!r}, model={self.model!r}, mode={self.mode!r}, "
            f"api_key_env={self.api_key_env!r}, max_new_tokens={self.max_new_tokens}, stop={self.stop!r})"
        )

    def _client(self) -> Any:
        from openai import OpenAI

        key = api_key(self.api_key_env, self.base_url)
        return OpenAI(base_url=self.base_url, api_key=key, timeout=self.timeout, max_retries=self.max_retries)

    def _request(self, client: Any, prompt: str) -> str:
        options: dict[str, Any] = {"model": self.model, "max_tokens": self.max_new_tokens}
        options["temperature"] = self.temperature
        if self.stop:
            options["stop"] = list(self.stop)
        if self.seed is not None:
            options["seed"] = self.seed
        if self.mode == "completions":
            text = client.completions.create(prompt=prompt, **options).choices[0].text
        else:
            message = {"role": "user", "content": prompt}
            text = client.chat.completions.create(messages=[message], **options).choices[0].message.content
        return truncate_at_stop(text or "", self.stop)  # servers differ in whether they strip the stop string

    def generate(self, prompts: list[str]) -> list[str]:
        """Completions of `prompts`, in input order; an endpoint that does not answer is an error naming its URL."""
        from openai import APIConnectionError

        client = self._client()
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            results = pool.map(lambda p: self._request(client, p), prompts)  # map keeps input order
            try:
                return list(tqdm(results, total=len(prompts), desc="generate", disable=not self.progress))
            except APIConnectionError as err:
                raise RuntimeError(
                    f"the endpoint {self.base_url} (model {self.model!r}) did not answer: {err}"
                ) from err


def local_generator(
    model_dir: str | Path,
    template: str,
    *,
    backend: str = "hf",
    batch_size: int = 32,
    max_new_tokens: int = 64,
    progress: bool = False,
) -> Any:
    """The generator of a local model for params `experiment.generation`: `backend` hf (on CUDA when there is one)
    or vllm, stopping where `template` starts its next turn."""
    from seqit_utils.prompts import stop_strings

    options = dict(max_new_tokens=max_new_tokens, stop=stop_strings(template), progress=progress)
    if backend == "vllm":
        from seqit_utils.evaluate.vllm_backend import VLLMGenerator

        return VLLMGenerator(model_dir, **options)
    if backend != "hf":
        raise ValueError(f"generation backend = {backend!r} is unknown; allowed values: hf, vllm")
    return HFGenerator(model_dir, batch_size=batch_size, **options)


BACKENDS = ("hf", "vllm", "openai")


def make_generator(spec: dict[str, Any]) -> Generator:
    """A generator from a params-like dict: `{"backend": "hf" | "vllm", "model": <dir>, ...}` or
    `{"backend": "openai", "base_url": ..., "model": ..., ...}`; other keys are the constructor's keyword arguments.
    """
    spec = dict(spec)
    backend = spec.pop("backend", None)
    if backend not in BACKENDS:
        raise ValueError(f"backend = {backend!r} is unknown; allowed values: {', '.join(BACKENDS)}")
    if backend == "vllm":
        from seqit_utils.evaluate.vllm_backend import VLLMGenerator as cls  # vllm itself is imported on use
    else:
        cls = HFGenerator if backend == "hf" else OpenAIGenerator
    # params name the local model `model` too; a tokenizer object has no place in a params file
    first = {"hf": "model_or_path", "vllm": "model_path"}.get(backend)
    allowed = [("model" if name == first else name) for name in inspect.signature(cls).parameters]
    allowed = [name for name in allowed if name != "tokenizer"]
    for key in spec:
        if key not in allowed:
            raise ValueError(f"generator key {key!r} is unknown for backend {backend!r}; allowed keys: {allowed}")
    if first and "model" in spec:
        spec[first] = spec.pop("model")
    return cls(**spec)
