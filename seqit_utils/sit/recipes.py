"""The training sets no other stage builds (stage `train_sets`, notebook 11): `build(config, run, root)` makes run
`run`'s set, written to `outputs/<profile>/train_sets/<run>.jsonl`. Which recipe builds what:

- `none` over real sources: the records of the run's `train_data`, in that order (the §4.2 samples: FlanCoT 100K,
  Tulu-V2 100K, Tulu-V2 100K + MetaMath 20K);
- `repeat` / `paraphrase` (over other sources than stage 02's pair): the originals, then their "First repeat /
  paraphrase the input, then ..." versions (§2.2, App. A; `sit.manual`); the paraphrases are asked of the run's
  `generator` or `llm.generator` (prompt: `prompts.PARAPHRASE_*`);
- `translate`: §4.1.1's set over multilingual Alpaca, the source whose loader is `alpaca_translate_sit`
  (`sft_sources.translate_sit`: 1/3 of the English inputs replaced by a de/es/ru/zh translation);
- `seq_instruct` over any source, or over `seq_instruct.source` with the run's own `generator` (the §5.2 generator
  swap): `seq_instruct.iterations` Seq-Instruct iterations (`seq_instruct.run_seq_instruct`), the last one's records
  (as many as the source's). With `seq_instruct.released` the authors' released SIT of the source (FlanCoT, Tulu-V2,
  Alpaca) is used instead where it is found (`sft_sources.load_seqins_released`); the report says which.

Sources are `data.training_sources` (read here: a missing file stops only the runs that need it), `data.datasets` (the
data stage's files) or `task_suite`. All are read and checked before any LLM call. LLM requests go through the
profile's cache (`outputs/<profile>/llm_cache/`): a re-run, or a run resumed after a crash, sends nothing it sent
before. Conversations (Tulu-V2's `messages`) stay conversations (`as_training`).
"""

from __future__ import annotations

import inspect
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from seqit_utils import io
from seqit_utils.config import Config, RunSpec, data_dir
from seqit_utils.prompts import paraphrase_messages, parse_paraphrase, user_message

logger = logging.getLogger(__name__)
Record = dict[str, Any]
RECIPES = ("none", "repeat", "paraphrase", "translate", "seq_instruct")
LLM_RECIPES = ("paraphrase", "seq_instruct")
ALPACA_LOADERS = ("alpaca", "alpaca_cleaned")  # the English side of the translate set (it holds those records)
RELEASED = {"alpaca": "alpaca", "alpaca_cleaned": "alpaca", "flancot": "flancot", "tulu_v2": "tulu"}  # loader -> set
RELEASED_ITERATIONS = 2  # the authors' released sets: 2 iterations by Llama-3-70B-Instruct (§4.2)


def source_loader(config: Config, source: str) -> str | None:
    """The loader of a `train_data` name (`task_suite` for the suite), None when the profile has no such source."""
    spec = config.data.training_sources.get(source) or config.data.datasets.get(source)
    if spec is not None:
        return spec.loader
    return "task_suite" if source == "task_suite" and config.data.task_suite is not None else None


def unbuildable(config: Config, name: str) -> str | None:
    """Why no recipe here can build run `name`'s set (None: `build` can)."""
    run = config.runs[name]
    if run.transform not in RECIPES:
        return f"transform {run.transform!r} is not a recipe of stage train_sets ({', '.join(RECIPES)})"
    if unknown := [s for s in run.train_data if source_loader(config, s) is None]:
        known = [*config.data.training_sources, *config.data.datasets, *["task_suite"] * bool(config.data.task_suite)]
        return f"{unknown} not among the profile's sources (data.training_sources, data.datasets: {', '.join(known)})"
    if run.transform == "translate":
        loaders = [source_loader(config, s) for s in run.train_data]
        if loaders.count("alpaca_translate_sit") != 1 or set(loaders) - {"alpaca_translate_sit", *ALPACA_LOADERS}:
            return "translate needs one source with loader alpaca_translate_sit (§4.1.1's set), besides Alpaca only"
    return None


def _seq_instruct_source(config: Config, run: RunSpec) -> bool:
    """Whether `run` is Seq-Instruct over `seq_instruct.source` (then its records and limit are stage 03's)."""
    from seqit_utils.train.runs import seq_instruct_data

    return run.transform == "seq_instruct" and sorted(run.train_data) == seq_instruct_data(config)


def load_sources(config: Config, name: str, root: str | Path = ".") -> tuple[list[Record], dict[str, Any]]:
    """Run `name`'s source records (concatenated in `train_data` order; translate: its `alpaca_translate_sit` source
    only) and where each came from."""
    from seqit_utils.llm import stages as llm_stages

    run = config.runs[name]
    if _seq_instruct_source(config, run):
        spec = config.seq_instruct
        records = llm_stages.stage_records(config, spec.source, spec.limit, root)
        return records, {
            spec.source: {"records": len(records), "from": f"data/{spec.source}.jsonl", "limit": spec.limit}
        }
    records, report, names = [], {}, list(run.train_data)
    if run.transform == "translate":  # its set holds the English records too (the multilingual set is Alpaca)
        names = [s for s in names if source_loader(config, s) == "alpaca_translate_sit"]
        report |= {s: {"from": f"the English side of {names[0]}"} for s in run.train_data if s not in names}
    for source in names:
        if source in config.data.training_sources:
            part, where = _training_source(config, name, source), f"data.training_sources.{source}"
        else:
            stage_name = "task_suite/train_it" if source == "task_suite" else f"real/{source}"
            part, where = llm_stages.stage_records(config, stage_name, None, root), f"data/{stage_name}.jsonl"
        records += part
        report[source] = {"records": len(part), "from": where, "loader": source_loader(config, source)}
    return records, report


def _training_source(config: Config, run: str, source: str) -> list[Record]:
    from seqit_utils.data import loaders, sizes
    from seqit_utils.data.sources import DataNotFoundError

    spec = config.data.training_sources[source]
    seed = {"seed": config.seed} if "seed" in inspect.signature(loaders.LOADERS[spec.loader]).parameters else {}
    try:
        records = loaders.load(
            spec.loader, path=spec.path, data_dir=data_dir(config), limit=spec.limit, **(seed | spec.options)
        )
    except DataNotFoundError as err:
        raise DataNotFoundError(
            f"runs.{run} trains on source data set {source!r} (data.training_sources.{source}, loader "
            f"{spec.loader!r}; its published layout: docs/data.md), which is not here. {err}\nThen run "
            f"`dvc repro train_sets@{run}`."
        ) from None
    wanted = [n for n in (spec.limit, spec.options.get("sample")) if isinstance(n, int)]
    sizes.check_size(
        spec.loader, records, spec.allow_sample, options=spec.options, wanted=min(wanted) if wanted else None,
        key=f"data.training_sources.{source}",
    )  # fmt: skip
    return records


def released_set(config: Config, name: str) -> str | None:
    """The authors' released Seq-Instruct set (alpaca | flancot | tulu) that can stand for run `name`'s set: a
    Seq-Instruct run by `llm.generator` over one source that has one, with the released sets' 2 iterations."""
    run = config.runs[name]
    if run.transform != "seq_instruct" or run.generator is not None or len(run.train_data) != 1:
        return None
    if config.seq_instruct.iterations != RELEASED_ITERATIONS:
        return None
    return RELEASED.get(source_loader(config, run.train_data[0]) or "")


def _released(config: Config, name: str) -> tuple[list[Record], dict[str, Any]] | None:
    """The released set for `seq_instruct.released` (when_present | required), else None (regenerate)."""
    from seqit_utils.data import loaders
    from seqit_utils.data.sources import DataNotFoundError

    mode, which = config.seq_instruct.released, released_set(config, name)
    if mode == "never":
        return None
    if which is None:
        if mode == "required":
            raise ValueError(
                f"runs.{name}: seq_instruct.released = 'required', but the authors released no Seq-Instruct set for "
                f"{config.runs[name].train_data} with {config.seq_instruct.iterations} iterations by llm.generator "
                "(released: Alpaca, FlanCoT, Tulu-V2; 2 iterations). Fix: set seq_instruct.released: when_present"
            )
        return None
    try:
        records = loaders.load("seqins_released", name=which, data_dir=data_dir(config))
    except DataNotFoundError as err:
        if mode == "required":
            raise DataNotFoundError(
                f"runs.{name}: seq_instruct.released = 'required' needs the authors' released {which} SIT: {err}\n"
                "Or set seq_instruct.released: when_present (regenerate when absent)."
            ) from None
        return None
    return records, {"released": which, "records": len(records), "note": "the authors' own draw of the source"}


def build(config: Config, name: str, root: str | Path = ".", *, progress: bool = True) -> tuple[list[Record], dict]:
    """Run `name`'s training set and a report (recipe, sources, LLM counts; see the module docstring)."""
    from seqit_utils.sit import manual

    run = config.runs[name]
    if (reason := unbuildable(config, name)) is not None:
        raise ValueError(f"runs.{name}: no recipe builds its set: {reason}")
    report: dict[str, Any] = {"run": name, "transform": run.transform, "train_data": list(run.train_data)}
    if run.transform == "seq_instruct" and (released := _released(config, name)) is not None:
        records, dropped = as_training(released[0])
        report |= {"recipe": "released", "source": released[1], "records": len(records)}
        return records, report | {"dropped_conversations": dropped}
    sources, report["sources"] = load_sources(config, name, root)  # every source checked before any LLM call
    if run.transform in LLM_RECIPES:
        endpoint = run.generator or config.llm.generator
        records, llm_report = _with_llm(config, run, sources, endpoint, root, progress)
        report |= {"endpoint": endpoint, **llm_report}
    elif run.transform == "repeat":
        records = manual.build_sit_dataset(sources, "repeat", seed=config.seed)
    else:  # none, translate (the translate source's loader built the §4.1.1 set)
        records = sources
    report["recipe"] = "regenerated" if run.transform == "seq_instruct" else run.transform
    report["by_sit"] = dict(Counter(r.get("sit") or "original" for r in records))
    records, report["dropped_conversations"] = as_training(records)
    report["records"] = len(records)
    logger.info("runs.%s: %d training records (%s)", name, len(records), report["recipe"])
    return records, report


def _with_llm(
    config: Config, run: RunSpec, sources: list[Record], endpoint: str, root: str | Path, progress: bool
) -> tuple[list[Record], dict[str, Any]]:
    from seqit_utils.llm import endpoints
    from seqit_utils.llm import stages as llm_stages
    from seqit_utils.sit import manual, seq_instruct

    with endpoints.open_endpoint(config, endpoint, root, progress=progress) as client:
        if run.transform == "paraphrase":
            records = manual.build_sit_dataset(sources, "paraphrase", seed=config.seed, paraphrase=paraphraser(client))
            extra: dict[str, Any] = {}
        else:
            spec = config.seq_instruct
            result = seq_instruct.run_seq_instruct(
                sources, client.complete, iterations=spec.iterations, allowed_options=spec.allowed_options,
                seed=config.seed,
            )  # fmt: skip
            records = [with_turns(s, r) for s, r in zip(sources, result.records_by_iteration[-1], strict=True)]
            extra = {"summary": result.summary, "iterations": spec.iterations}
    return records, {**extra, "client": llm_stages.stats_dict(client.totals)}


def paraphraser(client: Any) -> Callable[[list[str]], list[str]]:
    """`manual.Paraphraser` over an `LLMClient`: one request per text (`prompts.paraphrase_messages`), replies parsed
    by `prompts.parse_paraphrase` ("" for a failed request: manual SIT leaves that record unchanged)."""

    def paraphrase(texts: list[str]) -> list[str]:
        results = client.complete([paraphrase_messages(text) for text in texts])
        return [parse_paraphrase(getattr(r, "text", r)) for r in results]

    return paraphrase


def with_turns(source: Record, new: Record) -> Record:
    """A Seq-Instruct record with its source's other fields; a conversation (`messages`) keeps its later turns."""
    return {**{k: v for k, v in source.items() if k in ("messages", "system_prompt")}, **new}


def as_training(records: Sequence[Record]) -> tuple[list[Record], int]:
    """(records as stage train reads them, how many conversations were left out).

    Single-turn: id, instruction, input, output. When any record is a conversation (`messages`; the trainer takes
    one kind per set), every record becomes one: its first user turn and that turn's reply are set from instruction
    + input and output (so a rewritten instruction replaces the original's), a system turn is put before the first
    user turn, a last user turn without reply is dropped; a conversation whose turns do not alternate user /
    assistant is left out (counted).
    """
    if not any("messages" in r for r in records):
        return [{k: r.get(k) or "" for k in ("id", "instruction", "input", "output")} for r in records], 0
    out, dropped = [], 0
    for r in records:
        turns = [dict(m) for m in r.get("messages") or [{"role": "user"}, {"role": "assistant"}]]
        system = "\n\n".join(m["content"] for m in turns if m["role"] == "system")
        turns = [m for m in turns if m["role"] != "system"]
        turns = turns[: len(turns) // 2 * 2]
        if not turns or [m["role"] for m in turns] != ["user", "assistant"] * (len(turns) // 2):
            dropped += 1
            continue
        first = user_message(r["instruction"], r.get("input") or "")
        turns[0]["content"], turns[1]["content"] = f"{system}\n\n{first}" if system else first, r["output"]
        out.append({"id": r["id"], "messages": turns})
    return out, dropped


def write(config: Config, name: str, records: list[Record], report: dict, root: str | Path = ".") -> Path:
    """`train_sets/<name>.jsonl` and `metrics/train_sets/<name>.json` (with provenance) under outputs/<profile>/."""
    out = Path(root) / config.output_dir
    if not records:
        raise ValueError(f"runs.{name}: the recipe made no training records ({report}); check its sources")
    io.write_jsonl(out / "train_sets" / f"{name}.jsonl", records)
    io.write_metrics(out / "metrics" / "train_sets" / f"{name}.json", report, config.params(), config.seed)
    return out / "train_sets" / f"{name}.jsonl"
