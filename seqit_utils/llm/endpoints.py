"""The profile's LLM endpoints as ready clients (notebooks 03 and 04): a remote OpenAI-compatible server from params,
or a model this profile trained, served by `transformers serve` for as long as the block runs.

A trained model answers prompts in its training template (`model.base_models.<base>.prompt_template`), but a chat
server applies the tokenizer's chat template; `served_copy` writes a copy of the model whose chat template renders a
conversation in the training template, so the served model sees what it was trained on.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from seqit_utils import io
from seqit_utils.config import Config
from seqit_utils.llm.client import LLMClient


def _literal(text: str) -> str:
    """`text` as a Jinja expression: transformers renders chat templates with trim_blocks, which eats newlines."""
    return "{{ " + json.dumps(text) + " }}"


# Jinja chat templates equal to `seqit_utils.prompts.format_prompt(<all message contents>, "", template)`.
_CONTENT = (
    "{% for m in messages %}{{ m['content'] }}{% if not loop.last %}" + _literal("\n\n") + "{% endif %}{% endfor %}"
)
_ALPACA = "Below is an instruction that describes a task. Write a response that appropriately completes the request."
CHAT_TEMPLATES = {
    "alpaca_short": _literal("### Instruction:\n") + _CONTENT + _literal("\n\n### Response:\n"),
    "alpaca": _literal(_ALPACA + "\n\n### Instruction:\n") + _CONTENT + _literal("\n\n### Response:\n"),
    "tulu": _literal("<|user|>\n") + _CONTENT + _literal("\n<|assistant|>\n"),
}


def served_copy(model_dir: str | Path, out_root: str | Path, template: str, context: int | None = None) -> Path:
    """A copy of `model_dir` under `out_root` whose chat template renders `template` (`chat`: the model's own, no
    copy needed) and, if `context` is given, whose `max_position_embeddings` and `model_max_length` are raised to it
    (Seq-Instruct's few-shot prompts are longer than the tiny models' training context; RoPE extends, badly).

    The copy's folder name carries a hash of the model files and these settings: a retrained model gets a new
    folder, hence a new model name in requests, hence no stale answers from the request cache.
    """
    model_dir = Path(model_dir)
    if template == "chat":
        return model_dir
    if template not in CHAT_TEMPLATES:
        allowed = ", ".join(["chat", *CHAT_TEMPLATES])
        raise ValueError(f"prompt_template = {template!r} cannot be served; allowed: {allowed}")
    files = sorted(p for p in model_dir.iterdir() if p.is_file())
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir}: no config.json; train the model first (dvc repro finetune)")
    key = io.stable_hash({"files": {p.name: io.file_sha256(p) for p in files}, "template": template, "ctx": context})
    out = Path(out_root) / f"{model_dir.name}-{key[:10]}"
    if out.is_dir():
        return out
    with io.atomic_dir(out) as tmp:
        for path in files:
            shutil.copy2(path, tmp / path.name)
        config = json.loads((tmp / "config.json").read_text(encoding="utf-8"))
        tokenizer = json.loads((tmp / "tokenizer_config.json").read_text(encoding="utf-8"))
        tokenizer.pop("chat_template", None)  # chat_template.jinja below is the one
        if context is not None:
            config["max_position_embeddings"] = max(context, config.get("max_position_embeddings", 0))
            tokenizer["model_max_length"] = config["max_position_embeddings"]
        (tmp / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        (tmp / "tokenizer_config.json").write_text(json.dumps(tokenizer, indent=2), encoding="utf-8")
        (tmp / "chat_template.jinja").write_text(CHAT_TEMPLATES[template], encoding="utf-8")
    return out


@contextmanager
def open_client(config: Config, role: str, root: str | Path = ".", *, progress: bool = True) -> Iterator[LLMClient]:
    """An `LLMClient` for `llm.<role>` (generator | judge); see `open_endpoint`."""
    if config.llm is None or role not in ("generator", "judge"):
        raise ValueError(f"role = {role!r}: needs an `llm` section and role generator or judge")
    with open_endpoint(config, getattr(config.llm, role), root, progress=progress) as client:
        yield client


@contextmanager
def open_endpoint(config: Config, name: str, root: str | Path = ".", *, progress: bool = True) -> Iterator[LLMClient]:
    """An `LLMClient` for `llm.endpoints.<name>` with the profile's request cache
    (`outputs/<profile>/llm_cache/<name>.sqlite`); a `serve` endpoint runs `transformers serve`, a `suite` endpoint
    the suite generator's server, until the block ends."""
    from seqit_utils.llm.serve import transformers_serve

    if config.llm is None or name not in config.llm.endpoints:
        allowed = ", ".join(config.llm.endpoints) if config.llm else "none (no `llm` section)"
        raise ValueError(f"endpoint = {name!r} is unknown; allowed values: {allowed}")
    spec = config.llm.endpoints[name]
    out = Path(root) / config.output_dir
    options = dict(
        sampling=spec.sampling,
        concurrency=spec.concurrency,
        timeout=spec.timeout,
        max_retries=spec.max_retries,
        cache=out / "llm_cache" / f"{name}.sqlite",
        progress=progress,
    )
    if spec.suite is not None:  # the suite generator (a program standing in for the paper's 70B model)
        from seqit_utils.llm.suite_server import suite_generator_server

        log = out / "served" / f"{name}.log"
        with suite_generator_server(spec.suite or None, seed=config.seed, log_path=log) as endpoint:
            yield LLMClient(endpoint.base_url, endpoint.model, api_key_env=spec.api_key_env, **options)
        return
    if spec.serve is None:
        yield LLMClient(spec.base_url, spec.model, api_key_env=spec.api_key_env, **options)
        return
    template = config.model.base_models[config.model.base].prompt_template
    model = served_copy(out / "models" / spec.serve, out / "served", template, context=4096)
    with transformers_serve(model, log_path=out / "served" / f"{name}.log") as endpoint:
        yield LLMClient(endpoint.base_url, endpoint.model, api_key_env=spec.api_key_env, **options)
