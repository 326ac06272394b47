"""The LLM sections: `llm` (OpenAI-compatible endpoints — a server, a model this profile trained served on
loopback, or the suite generator — and which one generates and which one judges), `seq_instruct` (Seq-Instruct,
§2.2) and `seqeval` (SeqEval construction and judging, §3).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from seqit_utils.config.base import _check_choice, _Strict


class EndpointSpec(_Strict):
    """An OpenAI-compatible chat endpoint for `seqit_utils.llm.client.LLMClient`, one of three kinds: `base_url` +
    `model` (OpenAI, vLLM, any server; the key comes from the environment variable `api_key_env`); `serve`, a model
    this profile trained (`outputs/<profile>/models/<serve>`), run by `transformers serve` on loopback while the
    stage runs; or `suite`, the suite generator served on loopback."""

    base_url: str | None = None
    model: str | None = None
    serve: str | None = None  # "<variant>-<seed>", e.g. "sit-0"
    # the suite generator (`seqit_utils.llm.suite_generator`, a deterministic program standing in for the paper's
    # Llama-3-70B-Instruct on task-suite instructions), served on loopback: its option rates, e.g. {A: 0.1, B: 0.5,
    # C: 0.25, D: 0.15} or {single: {...}, sequential: {...}}; {}: the paper's Table 4 shares
    suite: dict[str, Any] | None = None
    api_key_env: str = "OPENAI_API_KEY"  # the variable's name; the key itself never goes into params
    sampling: dict[str, float | int | list[str] | None] = {}  # `seqit_utils.llm.client.Sampling` fields
    concurrency: int = Field(default=16, gt=0)
    timeout: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=5, ge=0)

    @model_validator(mode="after")
    def _one_kind(self) -> EndpointSpec:
        from seqit_utils.llm.client import Sampling

        kinds = [k for k in ("serve", "base_url", "suite") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "give exactly one of `serve` (a model of this profile), `base_url` + `model` (a server) or `suite` "
                f"(the suite generator); got {', '.join(kinds) or 'none'}"
            )
        if self.suite is not None:
            from seqit_utils.llm.suite_generator import SuiteGenerator

            SuiteGenerator.from_rates(self.suite or None)  # bad rates fail here, naming the key
        if self.base_url is not None and not self.model:
            raise ValueError("an endpoint with `base_url` needs `model` (the model name the server expects)")
        if (self.serve is not None or self.suite is not None) and self.model is not None:
            raise ValueError("`model` is set by `serve` / `suite` (the served model); remove `model`")
        Sampling(**self.sampling)  # unknown or invalid sampling keys fail here, before any request
        return self


class LLMConfig(_Strict):
    """Endpoints for the LLM calls of notebooks 03 and 04: Seq-Instruct generation (§2.2, SeqEval construction §3)
    and the judge (App. B.5). Responses are cached in `outputs/<profile>/llm_cache/` (a re-run sends nothing)."""

    endpoints: dict[str, EndpointSpec]
    generator: str  # key of `endpoints`
    judge: str  # key of `endpoints`

    @model_validator(mode="after")
    def _endpoints_exist(self) -> LLMConfig:
        _check_choice("generator", self.generator, self.endpoints)
        _check_choice("judge", self.judge, self.endpoints)
        return self


class SeqInstructConfig(_Strict):
    """Notebook 03: Seq-Instruct over `source` records (§2.2; the paper: Alpaca, 2 iterations)."""

    source: str  # a file of the data stage: "real/<dataset>" or "task_suite/<split>" (under outputs/<profile>/data)
    limit: int | None = Field(default=None, gt=0)  # first N records (None: all)
    iterations: int = Field(default=2, gt=0)
    allowed_options: list[Literal["A", "B", "C", "D"]] = ["A", "B", "C", "D"]
    recorded_subset: Literal["alpaca", "flancot"] | None = "alpaca"  # authors' recorded outputs to validate parsers
    # Seq-Instruct runs built by stage train_sets over FlanCoT / Tulu-V2 / Alpaca: train on the authors' released SIT
    # (sft_sources.load_seqins_released: $SEQIT_DATA_DIR/seqins/ or the hub) instead of regenerating it — never,
    # when_present (else regenerate), or required (missing: stop, naming the file)
    released: Literal["never", "when_present", "required"] = "never"


class SeqEvalConfig(_Strict):
    """Notebook 04: SeqEval construction (§3) from `source` and judging of this profile's models on `benchmark`."""

    source: str  # single instructions to construct from (AlpacaEval's 805 in the paper); a data-stage file
    limit: int | None = Field(default=None, gt=0)
    iterations: int = Field(default=4, gt=0)
    ratios: list[float] = [0.1, 0.2, 0.3, 0.4]  # share of items taken from iteration 1..K
    benchmark: str | None = None  # the published SeqEval as a data-stage file ("real/seqeval"); None: our construction
    judge_limit: int | None = Field(default=None, gt=0)  # judge the first N benchmark items
    pairwise: list[str] = ["sit", "it"]  # win rate of the first model against the second, both orders (§3)

    @model_validator(mode="after")
    def _ratios_match(self) -> SeqEvalConfig:
        if len(self.ratios) != self.iterations:
            raise ValueError(f"ratios has {len(self.ratios)} shares for {self.iterations} iterations; give one each")
        if len(self.pairwise) != 2:
            raise ValueError("pairwise: give two runs, e.g. [sit, it]")
        return self
