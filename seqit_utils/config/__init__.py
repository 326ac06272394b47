"""Typed, validated configuration for the three profiles (`params/<profile>.yaml`).

Keys use the upstream names wherever they exist (transformers `TrainingArguments` / trl `SFTConfig`, peft
`LoraConfig`, transformers `LlamaConfig`), in the spirit of alignment-handbook recipes. Validation is strict: an
unknown key, a wrong type or a value outside the allowed set raises `ValueError` naming the file, the dotted key and
what is allowed, before any work starts.

This package's public names are all importable from `seqit_utils.config`; the modules follow the params file:
`base` (the strict base class, `PROFILES`), `sections` (data, model, train, experiment), `llm` (llm, seq_instruct,
seqeval), `evaluation` (evaluation, analysis), `runs` (the run registry, tables, ablations), `multimodal`,
`profile` (`Config`, the whole profile and its cross-section checks), `load` (reading and validating a params file)
and `switch` (`seqit profile PROFILE` / `python -m seqit_utils.config PROFILE`).
"""

from __future__ import annotations

from seqit_utils.config.base import PROFILES
from seqit_utils.config.evaluation import (
    AlpacaEvalConfig,
    AnalysisConfig,
    CSQAEval,
    EvalModel,
    EvaluationConfig,
    HarnessEval,
    MetricsConfig,
    MGSMEval,
    XQuADEval,
)
from seqit_utils.config.llm import EndpointSpec, LLMConfig, SeqEvalConfig, SeqInstructConfig
from seqit_utils.config.load import data_dir, find_project_root, load_config, params_path, validate
from seqit_utils.config.multimodal import MultimodalConfig, MultimodalData, MultimodalTrain, TinyInstructBlip
from seqit_utils.config.profile import Config
from seqit_utils.config.runs import (
    ABLATION_SETS,
    TRANSFORMS,
    AblationConfig,
    RunSpec,
    SeqInstructSplit,
    TableRow,
    TableRuns,
)
from seqit_utils.config.sections import (
    BaseModelSpec,
    DataConfig,
    DatasetSpec,
    ExperimentConfig,
    GenerationParams,
    LoraParams,
    ModelConfig,
    TaskSuiteConfig,
    TinyModelConfig,
    TrainConfig,
    TrainSetup,
)
from seqit_utils.config.switch import add_command, use_profile

__all__ = [
    "ABLATION_SETS",
    "PROFILES",
    "TRANSFORMS",
    "AblationConfig",
    "AlpacaEvalConfig",
    "AnalysisConfig",
    "BaseModelSpec",
    "CSQAEval",
    "Config",
    "DataConfig",
    "DatasetSpec",
    "EndpointSpec",
    "EvalModel",
    "EvaluationConfig",
    "ExperimentConfig",
    "GenerationParams",
    "HarnessEval",
    "LLMConfig",
    "LoraParams",
    "MGSMEval",
    "MetricsConfig",
    "ModelConfig",
    "MultimodalConfig",
    "MultimodalData",
    "MultimodalTrain",
    "RunSpec",
    "SeqEvalConfig",
    "SeqInstructConfig",
    "SeqInstructSplit",
    "TableRow",
    "TableRuns",
    "TaskSuiteConfig",
    "TinyInstructBlip",
    "TinyModelConfig",
    "TrainConfig",
    "TrainSetup",
    "XQuADEval",
    "add_command",
    "data_dir",
    "find_project_root",
    "load_config",
    "params_path",
    "use_profile",
    "validate",
]
