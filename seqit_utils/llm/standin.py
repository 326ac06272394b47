"""A stand-in for the paper's data-making LLMs (Llama-3-70B-Instruct, Command R+, GPT-4-Turbo as splitter) in
`seqit dry-run`: a deterministic program behind an OpenAI-compatible endpoint that answers each prompt of the
project's data-making steps in the format its parser reads, so a CPU run exercises every set the paper builds with an
LLM. It checks the wiring (prompts in, parsers, iterations, the sets built from the replies), not LLM quality: its
rewrites and answers are template text, and it says so in every reply it makes up.

- Seq-Instruct option (App. B.4 Fig. 3): B (prefix) for a single instruction, C (suffix) for one that is already
  sequential, D (hold) for one in five (by a hash of the instruction), among the options the prompt allows;
- Seq-Instruct rewrite (Fig. 4): "#New Instruction#: First list the key words of the task, then <instruction>###" (B),
  "<instruction>, then sum up the result in one sentence###" (C), "First outline the steps, then ..." (A);
- the answer to a (new) instruction: one line per step of "First ..., then ..., then ...";
- the §5.1 step split (`ablations.build_split_messages`): the instruction's steps paired with the response's lines;
- paraphrase (`prompts.paraphrase_messages`): "In other words: <text>".
Anything else gets one plain sentence. Served like the suite generator (`seqit_utils.llm.suite_server`, whose HTTP
handler it reuses): `python -m seqit_utils.llm.standin --port P`, or `standin_server()` in a `with` block.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MODEL = "seqit-standin-v1"  # the request cache keys on it: bump when a reply to the same request changes
_SPLIT = re.compile(r"#Instruction#:\s*(.*?)\n#Input#:.*?\n#Response#:\s*(.*)\Z", re.S)


def _query(user: str, label: str) -> str | None:
    """The instruction of the prompt's own query: after the last `label` (the few-shot examples come before it)."""
    at = user.rfind(label)
    return (
        None if at < 0 or not user.rstrip().endswith("Reasoning:") else user[at + len(label) :].split("\n")[0].strip()
    )


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def steps_of(instruction: str) -> list[str]:
    """The steps of "First a, then b, then c." as ["A.", "B.", "C."] (one step for any other instruction)."""
    parts = [
        p.strip().rstrip(".") for p in re.split(r",\s*then\s+", re.sub(r"^\s*First,?\s+", "", instruction.strip()))
    ]
    return [p[:1].upper() + p[1:] + "." for p in parts if p]


class StandIn:
    """The replies (module docstring); `reply(messages)` is pure and deterministic."""

    model = MODEL

    def reply(self, messages: Sequence[dict[str, Any]]) -> str:
        user = str(messages[-1].get("content") or "") if messages else ""
        if "So the option is:" in user and (query := _query(user, "\nInstruction:")):
            return self._option(query, allowed=re.findall(r"^([A-D])\. ", user, re.M))
        if "#New Instruction#" in user and (query := _query(user, "#Original Instruction#:")):
            option = re.search(r"option:\n([A-C])\. ", user)
            return self._rewrite(query, option[1] if option else "B")
        if "#Step 1 Instruction#" in user and (parts := _SPLIT.search(user)):
            return self._split(parts[1].strip(), parts[2].strip())
        if user.startswith("Paraphrase this text."):
            return "In other words: " + user.split("\n\n", 1)[-1].strip()
        if len(messages) == 1:  # Seq-Instruct's answer to a (new) instruction: one user message
            instruction = user.split("\n\n", 1)[0]
            return "\n".join(f"(stand-in) {step.rstrip('.')}: done." for step in steps_of(instruction))
        return "I am a stand-in for an LLM and have no answer to this."

    @staticmethod
    def _option(instruction: str, allowed: list[str]) -> str:
        wanted = "C" if instruction.lower().startswith("first") else "B"
        if _hash(instruction) % 5 == 0 or wanted not in allowed:
            wanted = "D" if "D" in allowed else (allowed or ["D"])[0]
        return f"Reasoning: a stand-in's choice, no reasoning behind it.\nSo the option is: {wanted}."

    @staticmethod
    def _rewrite(instruction: str, option: str) -> str:
        body = instruction.rstrip(". ")
        lowered = body[:1].lower() + body[1:]
        new = {
            "A": f"First outline the steps of the task, then {lowered}.",
            "B": f"First list the key words of the task, then {lowered}.",
            "C": f"{body}, then sum up the result in one sentence.",
        }[option]
        return f"Reasoning: a stand-in's rewrite.\n#New Instruction#: {new}###"

    @staticmethod
    def _split(instruction: str, response: str) -> str:
        steps, lines = steps_of(instruction), [line for line in response.splitlines() if line.strip()]
        n = min(len(steps), len(lines))
        if n < 2:
            return "A stand-in cannot split this into steps."
        parts = lines[: n - 1] + ["\n".join(lines[n - 1 :])]
        body = ""
        for k, (step, part) in enumerate(zip(steps[: n - 1] + [" ".join(steps[n - 1 :])], parts, strict=True), 1):
            body += f"#Step {k} Instruction#: {step}\n#Step {k} Response#: {part}\n"
        return body + "###"


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until killed: `python -m seqit_utils.llm.standin --port P`."""
    from seqit_utils.llm.suite_server import _handler, _Server

    parser = argparse.ArgumentParser(description="the dry run's stand-in for data-making LLMs, over HTTP")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    server = _Server(("127.0.0.1", args.port), _handler(StandIn()))
    print(f"stand-in {MODEL!r} on http://127.0.0.1:{args.port}/v1", flush=True)
    server.serve_forever()
    return 0


@contextmanager
def standin_server(*, startup_timeout: float = 60.0, log_path: Path | None = None) -> Iterator[Any]:
    """Run the stand-in on a free loopback port until the block ends; yields its `seqit_utils.llm.serve.Endpoint`."""
    from seqit_utils.llm.suite_server import program_server

    with program_server("seqit_utils.llm.standin", [], MODEL, "the stand-in LLM server",
                        startup_timeout=startup_timeout, log_path=log_path) as endpoint:  # fmt: skip
        yield endpoint


if __name__ == "__main__":
    raise SystemExit(main())
