"""`Config`, a whole profile: every section together, and the validators that check one section against another
(endpoints that exist, runs whose base, setup, seeds and transform are defined, no trained model feeding its own
training data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import model_validator

from seqit_utils.config.base import _check_choice, _check_fields, _Strict
from seqit_utils.config.evaluation import AnalysisConfig, EvaluationConfig
from seqit_utils.config.llm import EndpointSpec, LLMConfig, SeqEvalConfig, SeqInstructConfig
from seqit_utils.config.multimodal import MultimodalConfig
from seqit_utils.config.runs import AblationConfig, RunSpec, TableRuns
from seqit_utils.config.sections import (
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    TinyModelConfig,
    TrainConfig,
    TrainSetup,
)


class Config(_Strict):
    """A whole profile. `profile` is not a YAML key: it is the file name, and decides `output_dir`."""

    profile: str
    seed: int
    data: DataConfig
    model: ModelConfig
    train: TrainConfig
    experiment: ExperimentConfig
    llm: LLMConfig | None = None
    seq_instruct: SeqInstructConfig | None = None
    seqeval: SeqEvalConfig | None = None
    evaluation: EvaluationConfig | None = None
    analysis: AnalysisConfig | None = None
    ablations: AblationConfig | None = None
    runs: dict[str, RunSpec] = {}  # the run registry: name -> recipe (`seqit runs` lists it)
    tables: dict[str, TableRuns] = {}  # paper table -> its rows' runs (evaluated on the benchmarks it needs)
    multimodal: MultimodalConfig | None = None

    @model_validator(mode="after")
    def _llm_for_llm_stages(self) -> Config:
        if (self.seq_instruct or self.seqeval) and self.llm is None:
            raise ValueError("seq_instruct and seqeval need an `llm` section (endpoints, generator, judge)")
        endpoints = self.llm.endpoints if self.llm else {}
        for name, model in ((self.evaluation.models if self.evaluation else None) or {}).items():
            if model.endpoint is not None and model.endpoint not in endpoints:
                allowed = ", ".join(endpoints) or "none (add an `llm` section)"
                raise ValueError(f"evaluation.models.{name}.endpoint = {model.endpoint!r}; allowed values: {allowed}")
        if self.evaluation and self.evaluation.alpaca_eval and self.llm is None:
            raise ValueError("evaluation.alpaca_eval needs an `llm` section: its judge is llm.judge")
        bases = [f"base/seed-{s}" for s in self.experiment.seeds]  # stage 02's tiny bases
        servable = [*self.trained_models(), *bases]
        for name, spec in endpoints.items():
            if spec.serve is not None and spec.serve not in servable:
                raise ValueError(f"llm.endpoints.{name}.serve = {spec.serve!r}; allowed values: {', '.join(servable)}")
        self._check_runs(endpoints)
        # Seq-Instruct (stage 03), the SIT-split (stage 09) and generator runs make training data: an endpoint that
        # serves a trained model there would make that model an input of its own training (a cycle in the DAG).
        feeds = {"llm.generator": self.llm.generator if self.llm else None}
        if self.ablations and self.ablations.seq_instruct_split:
            feeds["ablations.seq_instruct_split.endpoint"] = self.ablations.seq_instruct_split.endpoint
        feeds |= {f"runs.{name}.generator": run.generator for name, run in self.runs.items()}
        for key, endpoint in feeds.items():
            served = endpoints[endpoint].serve if endpoint in endpoints else None
            if served is not None and served not in bases:
                raise ValueError(
                    f"{key} = {endpoint!r} serves {served!r}, a trained model, but its output is training data (a "
                    f"cycle); serve one of {', '.join(bases)} or use an external endpoint"
                )
        return self

    def trained_models(self) -> list[str]:
        """`<run>-<seed>` of every model the run registry trains (stage `train`, `models/<run>-<seed>/`)."""
        return [f"{name}-{seed}" for name, run in self.runs.items() for seed in (run.seeds or self.experiment.seeds)]

    def _check_runs(self, endpoints: dict[str, EndpointSpec]) -> None:
        ablations = self.ablations
        if ablations is not None and ablations.seq_instruct_split is not None:
            _check_choice("ablations.seq_instruct_split.endpoint", ablations.seq_instruct_split.endpoint, endpoints)
            if self.seq_instruct is None:
                raise ValueError(
                    "ablations.seq_instruct_split splits Seq-Instruct output: add a `seq_instruct` section"
                )
        if ablations is not None and ablations.sit_set == "seq_instruct" and ablations.seq_instruct_split is None:
            raise ValueError(
                "ablations.sit_set = 'seq_instruct' needs ablations.seq_instruct_split: its endpoint splits the "
                "Seq-Instruct records into steps for SIT-split and SIT-multi"
            )
        for name, run in self.runs.items():
            key = f"runs.{name}"
            if not name.replace("_", "").isalnum():
                raise ValueError(f"{key}: a run name may hold letters, digits and '_' only (it names files)")
            if run.base is not None:
                _check_choice(f"{key}.base", run.base, self.model.base_models)
            if run.init is not None:
                self._check_init(name, run)
            if run.setup is not None:
                _check_choice(f"{key}.setup", run.setup, self.train.setups)
            setup = self.train.setups[run.setup or self.train.setup]
            _check_fields(f"{key}.train_overrides", TrainSetup, setup.model_dump() | run.train_overrides)
            if run.seeds is not None and not set(run.seeds) <= set(self.experiment.seeds):
                allowed = ", ".join(map(str, self.experiment.seeds))
                raise ValueError(f"{key}.seeds = {run.seeds}: each must be one of experiment.seeds ({allowed})")
            base = run.base or self.model.base
            if run.tiny and (self.model.base_models[base].name_or_path != "tiny" or self.model.tiny is None):
                raise ValueError(f"{key}.tiny changes a tiny base; its base {base!r} is not tiny (remove `tiny`)")
            if run.tiny:
                _check_fields(f"{key}.tiny", TinyModelConfig, self.model.tiny.model_dump() | run.tiny)
            if run.transform == "seq_instruct_split" and (ablations is None or ablations.seq_instruct_split is None):
                raise ValueError(f"{key}.transform = 'seq_instruct_split' needs ablations.seq_instruct_split")
            if run.transform in ("seq_instruct", "paraphrase") and self.llm is None:
                raise ValueError(f"{key}: transform {run.transform!r} asks an LLM: add an `llm` section")
            if run.transform == "seq_instruct" and self.seq_instruct is None:
                raise ValueError(f"{key} trains on Seq-Instruct output: add a `seq_instruct` section (its source)")
            if run.generator is not None:
                _check_choice(f"{key}.generator", run.generator, endpoints)
        if self.seqeval is not None:
            for run in self.seqeval.pairwise:
                _check_choice("seqeval.pairwise", run, self.runs)
        for table, spec in self.tables.items():
            for label, row in spec.rows.items():
                key = f"tables.{table}.rows.{label!r}"
                _check_choice(f"{key}.run", row.run, self.runs)
                if table not in self.runs[row.run].tables:
                    raise ValueError(f"{key}.run = {row.run!r}: add {table!r} to runs.{row.run}.tables")

    def _check_init(self, name: str, run: RunSpec) -> None:
        key = f"runs.{name}.init"
        _check_choice(key, run.init, self.runs)
        start = self.runs[run.init]
        if run.base is not None or run.tiny:
            raise ValueError(f"{key} = {run.init!r} replaces the base: remove `base` / `tiny` (the model of "
                             f"{run.init!r} is the starting point)")  # fmt: skip
        missing = set(run.seeds or self.experiment.seeds) - set(start.seeds or self.experiment.seeds)
        if missing:
            raise ValueError(f"{key} = {run.init!r}: that run is not trained on seed(s) {sorted(missing)}, which "
                             f"runs.{name} starts from; give runs.{name}.seeds a subset of its seeds")  # fmt: skip
        seen, current = {name}, run.init
        while current is not None:
            if current in seen:
                raise ValueError(f"{key}: the chain of `init` runs loops back to {current!r}")
            seen.add(current)
            current = self.runs[current].init

    @property
    def output_dir(self) -> Path:
        """`outputs/<profile>/`, so profiles never clobber each other."""
        return Path("outputs") / self.profile

    def params(self) -> dict[str, Any]:
        """The validated parameters as plain data (for provenance)."""
        return self.model_dump(mode="json")
