"""AlpacaEval 2.0 win rate (Table 5, AlpacaEval column) of our model's outputs against recorded reference outputs.

Two paths over the same aligned pairs (one per reference instruction our model answered, in the references' order):

- `alpaca_eval_win_rate`: the `alpaca_eval` package itself (its prompts, parsers, order randomisation, metrics and
  annotation cache; nothing of it is re-implemented here) with its judge pointed at any OpenAI-compatible endpoint.
  We copy one of its annotator configs (default `weighted_alpaca_eval_gpt4_turbo`, AlpacaEval 2.0's: needs
  `logprobs`; `chatgpt` parses a plain "Output (a)/(b)" reply; `alpaca_eval_gpt4_turbo_fn` needs tool calls) into a
  folder under `cache_dir` whose name hashes (annotator, judge model, base URL), so annotations cached for one judge
  are never reused for another, and the cache lives there, never in site-packages or $HOME.
- `judge_win_rate`: our App. B.5 pairwise judge (`seqit_utils.evaluate.judge.win_rate`, both orders, position bias
  cancelled) with any `complete` callable, e.g. `seqit_utils.llm.stages.texts(LLMClient(...))`.

The API key: the client config file we hand to alpaca_eval holds the environment variable's NAME only; its
`client_class` is `env_key_client` below, which reads the value when alpaca_eval builds a client, in this process.
The key is therefore in no file (no temp file either), no log line and no result.

Units: alpaca_eval reports percentages; the returned `win_rate`, `standard_error`, `length_controlled_winrate`,
`lc_standard_error` and `discrete_win_rate` are fractions in [0, 1], like every metrics file of ours
(`seqit_utils.tables.layout.TableSpec.scale` multiplies by 100 for display).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import math
import sys
import types
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from seqit_utils import io
from seqit_utils.evaluate import judge
from seqit_utils.evaluate.generate import api_key

DEFAULT_ANNOTATOR = "weighted_alpaca_eval_gpt4_turbo"  # alpaca_eval constants.ANNOTATOR_CONFIG_AE2
REFERENCE_GENERATOR = "gpt4_1106_preview"  # AlpacaEval 2.0's baseline ("gpt4_turbo"), in ../shared/data
ALPACA_EVAL_SIZE = 805  # the length-controlled GLM looks up instruction difficulty by row position 0..804
PERCENT_KEYS = ("win_rate", "standard_error", "length_controlled_winrate", "lc_standard_error", "discrete_win_rate")
COUNT_KEYS = ("n_wins", "n_wins_base", "n_draws", "n_total", "avg_length")


def check_judge_key(config: Any) -> str | None:
    """Fail at the start of an evaluation (before hours of generation), naming the variable, when the judge
    `llm.judge` is a remote endpoint whose key is not in the environment. Returns the variable's name (None: the
    judge is served here and needs no key). `config` is a `seqit_utils.config.Config`."""
    if config.llm is None:
        raise ValueError("the AlpacaEval judge is llm.judge: add an `llm` section")
    spec = config.llm.endpoints[config.llm.judge]
    if spec.base_url is None:
        return None
    api_key(spec.api_key_env, spec.base_url)  # RuntimeError naming the variable, never a value
    return spec.api_key_env


def env_key_client(*, base_url: str, api_key_env: str, **kwargs: Any) -> Any:
    """An `openai.OpenAI` client whose key is read from the environment variable `api_key_env` now.

    alpaca_eval (`utils.get_all_clients`) imports a client config's `client_class` by dotted name and calls it with
    the config's other entries, so the config file names this function and the variable, never the key.
    """
    from openai import OpenAI

    return OpenAI(base_url=base_url, api_key=api_key(api_key_env, base_url), **kwargs)


def pair_outputs(
    model_outputs: Sequence[Mapping[str, Any]], reference_outputs: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(model, reference) records `{instruction, output, generator}` matched by exact instruction, in the
    references' order; references our model did not answer are left out. A model instruction with no reference,
    or a duplicate instruction on either side, is a ValueError."""
    model = _by_instruction(model_outputs, "model_outputs", "model")
    reference = _by_instruction(reference_outputs, "reference_outputs", "reference")
    unknown = [instruction for instruction in model if instruction not in reference]
    if unknown:
        raise ValueError(f"{len(unknown)} model instruction(s) have no reference output, e.g. {unknown[0][:80]!r}")
    pairs = [(model[i], r) for i, r in reference.items() if i in model]
    return [m for m, _ in pairs], [r for _, r in pairs]


def judge_win_rate(
    model_outputs: Sequence[Mapping[str, Any]],
    reference_outputs: Sequence[Mapping[str, Any]],
    complete: judge.Complete,
) -> dict[str, Any]:
    """Our judge's win rate (fraction) of `model_outputs` against `reference_outputs`: `judge.win_rate` (both
    orders of every pair) on the pairs of `pair_outputs`; adds `generator` and `reference_generator`."""
    model, reference = pair_outputs(model_outputs, reference_outputs)
    result = judge.win_rate(
        [m["instruction"] for m in model], [m["output"] for m in model], [r["output"] for r in reference], complete
    )
    return {**result, **_generators(model, reference)}


def alpaca_eval_win_rate(
    model_outputs: Sequence[Mapping[str, Any]],
    reference_outputs: Sequence[Mapping[str, Any]],
    *,
    base_url: str,
    model: str,
    output_dir: str | Path,
    cache_dir: str | Path,
    api_key_env: str = "OPENAI_API_KEY",
    annotator: str = DEFAULT_ANNOTATOR,
    name: str | None = None,
    length_controlled: bool = False,
    max_concurrency: int = 4,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """alpaca_eval's `evaluate` of our outputs against the references with judge `model` at `base_url`.

    `annotator` names a config of alpaca_eval's `evaluators_configs/`. `length_controlled` adds AlpacaEval 2.0's
    length-controlled win rate (a GLM fit): it needs all 805 AlpacaEval instructions in their published order and the
    Hugging Face hub (`df_gamed.csv`, cached under `cache_dir/hf`). Writes `annotations.json` (alpaca_eval's format)
    and `leaderboard.csv` to `output_dir`; annotations are cached under `cache_dir` (a re-run sends no request).
    Returns the fractions of `PERCENT_KEYS` (None when not computed), the counts of `COUNT_KEYS` (`n_total`: pairs
    scored), `n` (pairs sent), `n_unannotated` (left out: reply unparseable; asked again on the next run), `generator`,
    `reference_generator`, `annotator`, `judge_model`, `annotators_config` and the written `files`.
    """
    if not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise ValueError(f"max_concurrency: expected an integer >= 1, got {max_concurrency!r}")
    api_key(api_key_env, base_url)  # fail now, naming the variable, rather than inside alpaca_eval's worker threads
    pairs_model, pairs_reference = pair_outputs(model_outputs, reference_outputs)
    if not pairs_model:
        raise ValueError("no model output matches a reference instruction: nothing to evaluate")
    if length_controlled and len(pairs_model) != ALPACA_EVAL_SIZE:
        raise ValueError(
            f"length_controlled=True needs all {ALPACA_EVAL_SIZE} AlpacaEval instructions in their published order "
            f"(the GLM indexes instruction difficulty by row position); got {len(pairs_model)} pairs"
        )
    name = name or pairs_model[0]["generator"]
    ae = _alpaca_eval()
    config = write_annotator_config(annotator, model, base_url, api_key_env, cache_dir, max_concurrency, timeout)
    if length_controlled:
        metric, metric_kwargs = "get_length_controlled_winrate", {"save_weights_dir": None}  # not into site-packages
    else:
        metric, metric_kwargs = "get_winrate", {}
    with _hub_cache(ae.constants, Path(cache_dir) / "hf"):
        leaderboard, annotations = ae.main.evaluate(
            model_outputs=[{**m, "generator": name} for m in pairs_model],
            reference_outputs=pairs_reference,
            annotators_config=str(config),
            name=name,
            output_path=None,  # we write the outputs ourselves, atomically
            precomputed_leaderboard=None,  # "auto" could read and rewrite the package's own leaderboard CSVs
            is_cache_leaderboard=False,
            is_return_instead_of_print=True,
            fn_metric=metric,
            metric_kwargs=metric_kwargs,
            sort_by="win_rate",
            annotation_kwargs={"is_ordered": True},  # pairs are aligned row by row
            # False: cached "missing" annotations (-1) are ignored, so an unparseable reply is asked again. alpaca_eval
            # 0.6.6 crashes with False while there is no cache file (`BaseAnnotator._apply_cached_annotations`
            # queries a None frame), so the first run keeps the default and later runs ignore what it cached as -1.
            is_store_missing_annotations=not (config.parent / f"annotations_seed0_{config.stem}.json").is_file(),
        )
    out_dir = Path(output_dir)
    files = {"annotations": out_dir / "annotations.json", "leaderboard": out_dir / "leaderboard.csv"}
    frame = ae.utils.convert_to_dataframe(annotations)
    with io.atomic_open(files["annotations"]) as handle:
        handle.write(frame.to_json(orient="records", indent=2))
    with io.atomic_open(files["leaderboard"]) as handle:
        handle.write(leaderboard.to_csv())
    row = leaderboard.loc[name]
    result: dict[str, Any] = {k: _number(row.get(k), 0.01) for k in PERCENT_KEYS}
    result |= {k: None if _number(row.get(k)) is None else int(row[k]) for k in COUNT_KEYS}
    return {
        **result,
        "n": len(pairs_model),
        "n_unannotated": len(pairs_model) - (result["n_total"] or 0),  # judge replies alpaca_eval could not parse
        "generator": name,
        "reference_generator": _generators(pairs_model, pairs_reference)["reference_generator"],
        "annotator": annotator,
        "judge_model": model,
        "annotators_config": str(config),
        "files": {k: str(v) for k, v in files.items()},
    }


def write_annotator_config(
    annotator: str,
    model: str,
    base_url: str,
    api_key_env: str,
    cache_dir: str | Path,
    max_concurrency: int = 4,
    timeout: float = 120.0,
) -> Path:
    """Copy alpaca_eval's annotator config `annotator` (and its prompt) into `cache_dir/<annotator>-<hash>/`, with
    the judge `model` at `base_url`; returns its `configs.yaml`. alpaca_eval caches that annotator's annotations next
    to it (`annotations_seed0_configs.json`). `client_config.yaml` beside it names `env_key_client` and `api_key_env`
    (never a key)."""
    ae = _alpaca_eval()
    source = Path(ae.constants.EVALUATORS_CONFIG_DIR) / annotator / "configs.yaml"
    if not source.is_file():
        known = sorted(p.parent.name for p in Path(ae.constants.EVALUATORS_CONFIG_DIR).glob("*/configs.yaml"))
        raise ValueError(f"annotator: {annotator!r} is not an alpaca_eval annotator config; one of {known}")
    (settings,) = yaml.safe_load(source.read_text()).values()  # {annotator name: settings}
    identity = json.dumps([annotator, settings, model, base_url], sort_keys=True, default=str)
    folder = Path(cache_dir).resolve() / f"{annotator}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"
    prompt = Path(ae.constants.EVALUATORS_CONFIG_DIR) / settings["prompt_template"]
    client = {"client_class": f"{__name__}.env_key_client", "base_url": base_url, "api_key_env": api_key_env}
    settings = {
        **settings,
        "prompt_template": str(folder / "prompt.txt"),  # absolute, so alpaca_eval's `base_dir / template` is this file
        "completions_kwargs": {
            **settings["completions_kwargs"],
            "model_name": model,
            # alpaca_eval guesses chat vs completions API from the name (`decoders/openai.py::_requires_chatml`):
            # "...-Instruct" would be sent to /v1/completions. Our judges are chat endpoints.
            "requires_chatml": True,
            "client_config_path": str(folder / "client_config.yaml"),
            "num_procs": max_concurrency,
        },
    }
    for path, text in (
        (folder / "prompt.txt", prompt.read_text()),
        (folder / "client_config.yaml", yaml.safe_dump({"default": [{**client, "timeout": timeout}]})),
        (folder / "configs.yaml", yaml.safe_dump({annotator: settings}, sort_keys=False)),
    ):
        with io.atomic_open(path) as handle:
            handle.write(text)
    return folder / "configs.yaml"


def _by_instruction(records: Sequence[Mapping[str, Any]], what: str, default: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for i, record in enumerate(records):
        for key in ("instruction", "output"):
            if not isinstance(record.get(key), str):
                raise ValueError(f"{what}[{i}]: field {key!r} must be a string, got {type(record.get(key)).__name__}")
        if record["instruction"] in out:
            raise ValueError(f"{what}[{i}]: duplicate instruction {record['instruction'][:80]!r}")
        generator = str(record.get("generator") or default)
        out[record["instruction"]] = {
            "instruction": record["instruction"],
            "output": record["output"],
            "generator": generator,
        }
    return out


def _generators(model: list[dict[str, str]], reference: list[dict[str, str]]) -> dict[str, str | None]:
    def one(records: list[dict[str, str]]) -> str | None:
        names = sorted({r["generator"] for r in records})
        return ",".join(names) if names else None

    return {"generator": one(model), "reference_generator": one(reference)}


def _number(value: Any, scale: float = 1.0) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value * scale


@contextmanager
def _hub_cache(constants: Any, folder: Path) -> Iterator[None]:
    """alpaca_eval's hub downloads (the length-controlled GLM's `df_gamed.csv`) go to `folder`, not ~/.cache: its
    functions read `constants.DEFAULT_CACHE_DIR` when called, so we set it for the duration of one evaluation."""
    before = constants.DEFAULT_CACHE_DIR
    constants.DEFAULT_CACHE_DIR = str(folder)
    try:
        yield
    finally:
        constants.DEFAULT_CACHE_DIR = before


def _distribution(name: str) -> types.SimpleNamespace:
    return types.SimpleNamespace(version=importlib.metadata.version(name))


def _alpaca_eval() -> types.ModuleType:
    """`alpaca_eval` (with `.main`, `.constants`, `.utils`), imported on first use.

    Two repairs, both confined to the import: alpaca_eval 0.6.6 does `import pkg_resources`, which recent setuptools
    (84.2 here) no longer ships, so when it is absent a stand-in offering the two functions alpaca_eval calls
    (`parse_version`, `get_distribution(name).version`) is visible only while alpaca_eval imports (alpaca_eval.utils
    keeps its own reference); and importing `alpaca_eval.annotators.base` sets the root logger to INFO, which we
    undo. Not undone: `alpaca_eval/__init__.py` calls `dotenv.load_dotenv()`, which adds the variables of the first
    `.env` file found walking up from site-packages (from the working directory in Jupyter) to os.environ, never
    overriding any.
    """
    if "alpaca_eval.main" in sys.modules:
        return sys.modules["alpaca_eval"]
    root, level = logging.getLogger(), logging.getLogger().level
    shim = None
    if "pkg_resources" not in sys.modules and importlib.util.find_spec("pkg_resources") is None:
        from packaging.version import parse

        shim = types.ModuleType(
            "pkg_resources", "seqit stand-in for alpaca_eval (see seqit_utils.evaluate.alpaca_eval_run)"
        )
        vars(shim).update(parse_version=parse, get_distribution=_distribution)
        sys.modules["pkg_resources"] = shim
    try:
        import alpaca_eval
        import alpaca_eval.main  # noqa: F401
    finally:
        if shim is not None and sys.modules.get("pkg_resources") is shim:
            del sys.modules["pkg_resources"]
        root.setLevel(level)
    return alpaca_eval
