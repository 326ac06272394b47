"""Which paper row each of our rows is compared with, per table: data the run registry can replace.

`DEFAULT_PAPER_ROWS[table]` maps our row label to a selector of the paper's row (`seqit_utils.tables.paper_numbers`).
The defaults compare our `it` / `sit` pair (`MODELS`) with the paper's main Llama-3-8B rows (NAACL 2025): Alpaca for
Tables 5, 9-10, 12-13, multilingual Alpaca for Table 2 (Table 9's SIT is SIT-M, the manual translate-then-answer
SIT), FlanCoT for Table 11 (our rows there: the registry's FlanCoT runs, `FLANCOT_MODELS`), the Llama-3-8B-Alpaca
probe rows for Table 1. Where the paper has no Llama-3-8B row: Tables 7 and 8 compare with Mistral-7B (the one
model of Table 8), Table 3 with InstructBLIP. Table 6's rows are runs of the registry (`TABLE_6_RUNS`, the names of
params `runs:`).
"""

from __future__ import annotations

from seqit_utils.tables.paper_numbers import Selector

MODELS = {"IT": "it", "SIT": "sit"}  # row label -> model key
FLANCOT_MODELS = {"IT": "flancot_it", "SIT": "flancot_sit"}  # Table 11: the registry's FlanCoT runs (params `runs:`)
LLAMA3 = {"base_model": "Llama-3-8B"}
COTS = ("en-CoT", "trans-CoT")  # Tables 10/11: English CoT, translate-then-CoT
DEFAULT_PAPER_ROWS: dict[str, dict[str, Selector]] = {
    "table_1": {
        "base": {"group": "base_prompting", "model": "Llama-3-8B"},
        "IT": {"group": "IT", "model": "Llama-3-8B-Alpaca"},
        "SIT": {"group": "SIT", "model": "Llama-3-8B-Alpaca"},
    },
    "table_2": {m: {**LLAMA3, "dataset": "multilingual Alpaca", "method": m} for m in MODELS},
    "table_3": {m: {"method": m} for m in ("prompt", "IT", "SIT")},
    "table_5": {m: {**LLAMA3, "dataset": "Alpaca", "method": m} for m in MODELS},
    "table_6": {
        "IT": {"setting": "data-level", "method": "IT"},
        "SIT (data-level)": {"setting": "data-level", "method": "SIT"},
        "IT (instance-level)": {"setting": "instance-level", "method": "IT"},
        "SIT (instance-level)": {"setting": "instance-level", "method": "SIT"},
        "SIT-split": {"setting": "task-level", "method": "SIT-split"},
        "SIT-multi": {"setting": "task-level", "method": "SIT-multi"},
        "SIT": {"setting": "task-level", "method": "SIT"},
        "SIT (Command R+ data)": {"setting": "generator = Command R+", "method": "SIT"},
        "IT (Mistral-7B)": {"setting": "base = Mistral-7B", "method": "IT"},
        "SIT (Mistral-7B)": {"setting": "base = Mistral-7B", "method": "SIT"},
    },
    "table_7": {"ours": {"model": "Mistral-7B"}},
    "table_8": {p: {"model": "Mistral-7B", "eval_prompt": p} for p in ("non-sequential", "repeat", "paraphrase")},
    "table_9": {m: {**LLAMA3, "dataset": "Alpaca", "method": {"SIT": "SIT-M"}.get(m, m)} for m in MODELS},
    "table_10": {f"{m} {p}": {"dataset": "Alpaca", "method": m, "prompt": p} for m in MODELS for p in COTS},
    "table_11": {f"{m} {p}": {"dataset": "FlanCoT", "method": m, "prompt": p} for m in MODELS for p in COTS},
    "table_12": {m: {"part": "main", "model": "Llama-3-8B", "dataset": "Alpaca", "method": m} for m in MODELS},
    "table_13": {
        f"{m} · iteration {k}": {"iteration": k, "model": "Llama-3-8B", "dataset": "Alpaca", "method": m}
        for k in (1, 2, 3, 4) for m in MODELS
    },
}  # fmt: skip
# Table 6's rows are runs of the registry (params `runs:` names); Table 7's row reads one model per column.
TABLE_6_RUNS = {
    "IT": "it", "SIT (data-level)": "data_level", "IT (instance-level)": "instance_level_it",
    "SIT (instance-level)": "instance_level_sit", "SIT-split": "sit_split", "SIT-multi": "sit_multi", "SIT": "sit",
    "SIT (Command R+ data)": "sit_cmdr", "IT (Mistral-7B)": "mistral_it", "SIT (Mistral-7B)": "mistral_sit",
}  # fmt: skip
TABLE_7_MODELS = {"it_alpaca": ("it", "single"), "sit_repeat": ("sit", "repeat")}
TABLE_7_MODELS |= {"sit_paraphrase": ("sit_paraphrase", "paraphrase")}  # (model key, CSQA prompt) per column
TABLE_8_MODELS = {"it": "it", "sit_repeat": "sit", "sit_paraphrase": "sit_paraphrase"}  # column prefix -> model
TABLE_8_PROMPTS = {"non-sequential": "single", "repeat": "repeat", "paraphrase": "paraphrase"}
