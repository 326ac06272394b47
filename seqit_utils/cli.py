"""`seqit`: the project's one command line (declared in pyproject.toml as a console script).

Each subcommand lives beside the code it drives: a module in `COMMANDS` defines `add_command(subparsers)`, which adds
its parser and sets `func` (called with the parsed arguments; returns the exit code). `seqit --help` lists them all.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# One line per subcommand module; the order is the order of `seqit --help`.
COMMANDS = [
    "seqit_utils.config",  # seqit profile
    "seqit_utils.train.runs",  # seqit runs
    "seqit_utils.dryrun",  # seqit dry-run
    "seqit_utils.notebooks",  # seqit notebook
    "seqit_utils.analysis.figures",  # seqit figures
    "seqit_utils.evaluate.rescore",  # seqit rescore
    "seqit_utils.train.preflight",  # seqit preflight
    "seqit_utils.train.gpu_check",  # seqit gpu-check
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqit",
        description="Sequential instruction tuning (Hu et al., NAACL 2025), reproducible: profiles, runs, scoring.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        importlib.import_module(module).add_command(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as err:
        print(f"seqit {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
