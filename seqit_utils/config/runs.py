"""The run registry (`runs:`: one training recipe per entry, `RunSpec`), the paper tables' rows that read it
(`tables:`), and the `ablations` section (§5.1's ablation training sets); `ABLATION_SETS` and `TRANSFORMS` name the
sets a run can train on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from seqit_utils.config.base import _Strict

ABLATION_SETS = (
    "it_reference",  # §5.1's IT side: the IT records the SIT set was made from (stage 02's IT set with sit_set manual)
    "data_level",
    "instance_level_it",
    "instance_level_sit",
    "sit_split",
    "sit_multi",
    "seq_instruct_split",
)


# §2.2 / §4.1 manual transforms, Seq-Instruct (§2.2 automatic) and the §5.1 ablation builders of notebook 09.
TRANSFORMS = ("none", "repeat", "paraphrase", "translate", "seq_instruct", *ABLATION_SETS)


class RunSpec(_Strict):
    """One entry of the run registry (`runs:`): a recipe — source data, transform, base model, setup, seeds — and
    the tables its models feed. Stage `train` trains it once per seed (`train@<run>-<seed>`, notebook 05) into
    `outputs/<profile>/models/<run>-<seed>/`; `seqit runs` lists the registry."""

    # source datasets: `task_suite`, or names of the profile's data sets / the paper's (alpaca, flancot, tulu_v2, ...)
    train_data: list[str] = Field(min_length=1)
    transform: Literal[TRANSFORMS] = "none"
    # seq_instruct / paraphrase: the `llm.endpoints` key that makes the set in stage train_sets (for seq_instruct over
    # `seq_instruct.source`: the §5.2 generator swap); None: `llm.generator` (seq_instruct over seq_instruct.source:
    # stage 03's output)
    generator: str | None = None
    train: str | None = None  # a .jsonl under outputs/<profile>/ to train on instead of the transform's own set
    base: str | None = None  # a key of `model.base_models` (None: `model.base`)
    # Another run of the registry: start from its trained model of the same seed instead of the base (the DAG trains
    # that run first). Smoke's §5.1 ablations fine-tune the shared IT model, a stand-in for a pretrained base that
    # already does every single task (docs/miniature.md).
    init: str | None = None
    tiny: dict[str, int] = {}  # a tiny base: fields of `model.tiny` to change (a CPU stand-in for another base model)
    setup: str | None = None  # a key of `train.setups` (None: `train.setup`)
    train_overrides: dict[str, Any] = {}  # fields of the setup this run changes, e.g. {max_steps: 400}
    seeds: list[int] | None = None  # None: `experiment.seeds`
    tables: list[str] = Field(min_length=1)  # table_N of the paper (NAACL numbering), model_swaps, miniature

    @model_validator(mode="after")
    def _consistent(self) -> RunSpec:
        if self.generator is not None and self.transform not in ("seq_instruct", "paraphrase"):
            raise ValueError(
                "`generator` makes a set with an LLM: set transform: seq_instruct or paraphrase "
                f"(got {self.transform!r})"
            )
        if self.train is not None:
            path = Path(self.train)
            if path.suffix != ".jsonl" or path.is_absolute() or ".." in path.parts:
                raise ValueError(f"train = {self.train!r}: expected a .jsonl path under outputs/<profile>/")
        for table in self.tables:
            if not (table in ("model_swaps", "miniature") or (table.startswith("table_") and table[6:].isdigit())):
                allowed = "table_<N> (the paper's numbering), model_swaps, miniature"
                raise ValueError(f"tables: {table!r}; allowed: {allowed}")
        return self


class TableRow(_Strict):
    """One row of a paper table (`tables.<table>.rows.<label>`): the registry run whose models fill it (means over
    its seeds) and, optionally, which of the paper's rows it is compared with (a selector of
    `seqit_utils.tables.paper_numbers`, e.g. {dataset: FlanCoT, method: SIT}; default: the table's row of `label`)."""

    run: str
    paper: dict[str, Any] | None = None


class TableRuns(_Strict):
    """`tables.<table>`: the runs a paper table reads, row label -> run (or {run, paper}). Its runs are evaluated
    on the benchmarks the table needs (`seqit_utils.tables.paper_tables.BENCHMARKS`): the table can be rebuilt
    alone."""

    rows: dict[str, TableRow] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _short_rows(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("rows"), dict):
            rows = {k: {"run": v} if isinstance(v, str) else v for k, v in data["rows"].items()}
            data = {**data, "rows": rows}
        return data


class SeqInstructSplit(_Strict):
    """§5.1 SIT-split of Seq-Instruct data (notebook 09, set `seq_instruct_split`): its records carry no steps (one
    response for the whole sequential instruction), so an LLM splits each into single-task steps first."""

    source: str = "seq_instruct/iteration_2.jsonl"  # Seq-Instruct output (notebook 03) under outputs/<profile>/
    endpoint: str  # an `llm.endpoints` key: the LLM that splits instruction and response into steps


class AblationConfig(_Strict):
    """Notebook 09: the ablation training sets of §5.1 built from this profile's IT and SIT sets (the runs that
    train on them are entries of `runs:`; notebook 12 evaluates them for Table 6/12 and the §5.2 swaps)."""

    tokenizer: str = "minilm"  # "minilm" (shipped, offline), "base" (this profile's base model) or a hub id / path
    seed: int = 0
    seq_instruct_split: SeqInstructSplit | None = None  # None: no SIT-split of Seq-Instruct data
    # The SIT side of §5.1's sets: "manual" = stage 02's SIT (experiment.sit_transform; steps recorded) or
    # "seq_instruct" = stage 03's Seq-Instruct SIT (what the paper ablates; no recorded steps, so SIT-split and
    # SIT-multi ask the LLM of seq_instruct_split.endpoint to split each record first)
    sit_set: Literal["manual", "seq_instruct"] = "manual"
    # Notebook 12: the evaluation sets (`experiment.eval_sets` names) the runs of Tables 6/12 and the §5.2 swaps are
    # scored on; None: every set
    eval_sets: list[str] | None = None
