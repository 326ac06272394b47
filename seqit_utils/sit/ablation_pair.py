"""The IT / SIT pair §5.1's ablation sets start from (`ablations.sit_set`; notebook 09, `ablations.build_all`).

- `manual` (smoke, sample): stage 02's IT set and its SIT set (`experiment.sit_transform`, "First repeat the input,
  then ..."); sequential records carry their steps, so SIT-split / SIT-multi need no LLM.
- `seq_instruct` (paper: the paper ablates Seq-Instruct SIT): the records of stage 02's IT set (Alpaca) that stage
  03 ran Seq-Instruct over (all of them in the paper; the first `seq_instruct.limit` in smoke) and its last
  iteration's output, paired by id. Data-level uses every SIT record, instance-level the
  ones Seq-Instruct changed; those carry one response for the whole sequential instruction, so SIT-split and
  SIT-multi use the steps the LLM of `ablations.seq_instruct_split.endpoint` splits them into (`ablations.llm_steps`;
  a reply that does not parse leaves its record out, counted).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from seqit_utils import io
from seqit_utils.config import Config
from seqit_utils.sit import seq_instruct
from seqit_utils.train import experiment

Record = dict[str, Any]


class Pair(NamedTuple):
    it: list[Record]  # the IT set
    sit: list[Record]  # the whole SIT set (data-level draws from it)
    sequential: list[Record]  # its sequential records (instance-level pairs IT with them)
    with_steps: list[Record]  # sequential records with two or more `steps` (SIT-split, SIT-multi)
    report: dict[str, Any]


def load(config: Config, root: str | Path = ".", complete: seq_instruct.Complete | None = None) -> Pair:
    """The profile's pair (module docstring); `complete` splits Seq-Instruct records into steps (sit_set
    seq_instruct only)."""
    from seqit_utils.sit import ablations
    from seqit_utils.sit.recipes import as_training

    folder = experiment.profile_dir(config, root)
    it = io.read_jsonl(folder / "sit" / "it.jsonl")
    if config.ablations.sit_set == "manual":
        sit_all = io.read_jsonl(folder / "sit" / "sit.jsonl")
        sequential = [r for r in sit_all if len(r.get("steps") or []) > 1]
        return Pair(it, sit_all, sequential, sequential, {"sit_set": "manual: sit/sit.jsonl (stage sit_data)"})
    name = f"seq_instruct/iteration_{config.seq_instruct.iterations}.jsonl"
    if not (folder / name).is_file():
        raise FileNotFoundError(f"{folder / name}: no such file (ablations.sit_set = 'seq_instruct'); run `dvc repro "
                                "seq_instruct` first")  # fmt: skip
    raw = io.read_jsonl(folder / name)
    originals = {str(r["id"]): r["instruction"] for r in it}
    sources = [str(r.get("source_id", r["id"])) for r in raw]
    if not set(sources) & set(originals):
        raise ValueError(
            f"ablations.sit_set = 'seq_instruct' pairs the IT set (sit/it.jsonl) with {name} by id, but no record of "
            f"{name} comes from an IT record; seq_instruct.source must be the IT set's data (e.g. real/alpaca)"
        )
    sit_all = as_training(raw)[0]
    sequential = [r for r, s in zip(sit_all, sources, strict=True) if r["instruction"] != originals.get(s)]
    ran_over = set(sources)
    it = [r for r in it if str(r["id"]) in ran_over]  # the records Seq-Instruct ran over (paper: all of Alpaca)
    if complete is None:
        raise ValueError("ablations.sit_set = 'seq_instruct': SIT-split and SIT-multi need an LLM to split records")
    with_steps, steps_report = ablations.llm_steps(sequential, complete)
    report = {"sit_set": f"seq_instruct: {name} (stage seq_instruct)", "seq_instruct_steps": steps_report}
    return Pair(it, sit_all, sequential, with_steps, report)


@contextmanager
def splitter(config: Config, root: str | Path = ".") -> Iterator[Any]:
    """The `LLMClient` of `ablations.seq_instruct_split.endpoint` while the block runs (None when not set)."""
    from seqit_utils.llm import endpoints

    spec = config.ablations.seq_instruct_split
    if spec is None:
        yield None
        return
    with endpoints.open_endpoint(config, spec.endpoint, root) as client:
        yield client
