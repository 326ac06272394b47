"""Batched, cached generation of the evaluation models on the prompt benchmarks' sets (notebooks 06 and 08).

One model load per model and stage (or its endpoint's client), and resumable per (model, benchmark, setting):
outputs are kept in `outputs/<profile>/eval_cache/` under a key of the model's files, the prompts and the decoding
settings, so a re-run (or a run resumed after a crash) generates only what is missing and a retrained model starts
afresh. A model is asked only for the benchmarks its tables need (`EvalModel.benchmarks`).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from seqit_utils import io
from seqit_utils.config import Config
from seqit_utils.evaluate.models import EvalModel, model_fingerprint
from seqit_utils.prompts import user_message
from seqit_utils.train import experiment

Record = dict[str, Any]
Sets = dict[str, list[Record]]  # setting -> records


def generate(
    config: Config,
    models: Mapping[str, EvalModel],
    sets: Mapping[str, Sets],
    root: str | Path = ".",
    *,
    progress: bool = True,
) -> dict[str, dict[str, dict[str, list[str]]]]:
    """Greedy outputs `{model: {benchmark: {setting: [output, ...]}}}`; cached outputs are reused, the rest is
    generated with one model load per model (local models) or through the endpoint's client (cached requests).
    `progress`: a bar per model over its (benchmark, setting) sets."""
    from tqdm.auto import tqdm

    out: dict[str, dict[str, dict[str, list[str]]]] = {}
    for name, model in models.items():
        todo = [(b, s) for b, by_setting in sets.items() if model.runs(b) for s in by_setting]
        out[name] = {benchmark: {} for benchmark in sets if model.runs(benchmark)}
        with contextlib.ExitStack() as stack:
            backend = _Backend(config, model, root, stack)
            for benchmark, setting in tqdm(todo, desc=f"generate {name}", unit="set", disable=not progress):
                records = sets[benchmark][setting]
                out[name][benchmark][setting] = _cached_outputs(
                    config, model, benchmark, setting, records, backend, root
                )
    return out


class _Backend:
    """Generates for one model; loads it (or opens its endpoint) only when something is not cached."""

    def __init__(self, config: Config, model: EvalModel, root: str | Path, stack: contextlib.ExitStack):
        self.config, self.model, self.root, self.stack = config, model, root, stack
        self._generator: Any = None
        self._client: Any = None

    @functools.cached_property
    def fingerprint(self) -> str:
        """Changes whenever the model's files change, or the endpoint's settings (and, for a `serve` endpoint, the
        files of the profile's model it serves)."""
        if self.model.endpoint is None:
            return model_fingerprint(self.model.path)
        spec = self.config.llm.endpoints[self.model.endpoint]
        served = None
        if spec.serve is not None:
            served = model_fingerprint(experiment.profile_dir(self.config, self.root) / "models" / spec.serve)
        return io.stable_hash({"endpoint": spec.model_dump(mode="json"), "served": served})

    def prompts(self, records: Sequence[Record]) -> list[str]:
        if self.model.endpoint is not None:
            return [user_message(r["instruction"], r.get("input") or "") for r in records]
        template = self.template
        return experiment.prompts_for(list(records), template, self.hf().tokenizer if template == "chat" else None)

    @property
    def template(self) -> str:
        return self.model.template or self.config.model.base_models[self.config.model.base].prompt_template

    def hf(self) -> Any:
        """The local model's generator (loaded once, on CUDA when there is one; `experiment.generation.backend`,
        stop strings of the profile's template)."""
        from seqit_utils.evaluate.generate import local_generator

        if self._generator is None:
            batch = self.config.evaluation.batch_size if self.config.evaluation else 16
            backend = self.config.experiment.generation.backend
            self._generator = local_generator(self.model.path, self.template, backend=backend, batch_size=batch)
        return self._generator

    def generate(self, prompts: list[str], max_new_tokens: int) -> list[str]:
        if self.model.endpoint is None:
            generator = self.hf()
            generator.max_new_tokens = max_new_tokens
            return generator.generate(prompts)
        if self._client is None:
            from seqit_utils.llm.endpoints import open_endpoint

            self._client = self.stack.enter_context(open_endpoint(self.config, self.model.endpoint, self.root))
        return [r.text or "" for r in self._client.complete([[{"role": "user", "content": p}] for p in prompts])]


def max_new_tokens(config: Config, benchmark: str) -> int:
    """The benchmark's generation cap from params (`evaluation.<benchmark>.max_new_tokens`)."""
    return getattr(config.evaluation, benchmark).max_new_tokens


def _cached_outputs(
    config: Config,
    model: EvalModel,
    benchmark: str,
    setting: str,
    records: list[Record],
    backend: _Backend,
    root: str | Path,
) -> list[str]:
    cap = max_new_tokens(config, benchmark)
    ids = [r["id"] for r in records]
    key = io.stable_hash(
        {"model": backend.fingerprint, "ids": ids, "records": records, "max_new_tokens": cap, "v": 1}
    )[:16]
    path = cache_dir(config, root) / benchmark / model.name / f"{setting.replace('/', '_')}-{key}.json"
    if path.is_file():
        cached = json.loads(path.read_text(encoding="utf-8"))
        if cached.get("ids") == ids:
            return cached["outputs"]
    outputs = backend.generate(backend.prompts(records), cap)
    io.write_json(path, {"model": model.name, "benchmark": benchmark, "setting": setting, "ids": ids,
                         "outputs": outputs})  # fmt: skip
    return outputs


def cache_dir(config: Config, root: str | Path = ".") -> Path:
    """`outputs/<profile>/eval_cache/` (not a DVC output: it survives a failed stage, so a re-run resumes)."""
    return experiment.profile_dir(config, root) / "eval_cache"
