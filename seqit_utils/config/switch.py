"""Switching the profile `dvc repro` runs: `use_profile` validates `params/<profile>.yaml` and rewrites
`params.yaml`; `add_command` adds it to the `seqit` command line as `seqit profile PROFILE` (`python -m
seqit_utils.config PROFILE` does the same, see `__main__.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqit_utils.config.base import PROFILES
from seqit_utils.config.load import find_project_root, load_config
from seqit_utils.io import write_text


def use_profile(profile: str, root: str | Path | None = None) -> Path:
    """Validate `params/<profile>.yaml`, then make it the profile `dvc repro` runs (rewrites `params.yaml`).

    `params.yaml` holds what dvc.yaml's templating needs before any notebook runs: the profile name and its seeds
    (the training matrix), copied from the profile so there is one source of truth. `dvc exp run -S profile=...`
    would edit the same file, but it also deletes the other profiles' outputs from the workspace; this keeps them.
    """
    from seqit_utils.train.runs import train_entries, train_set_entries

    root = find_project_root(root)
    config = load_config(profile, root)
    seeds = ", ".join(str(seed) for seed in config.experiment.seeds)
    entries = "".join(
        f"  {key}: {{run: {e['run']}, seed: {e['seed']}, data: {e['data']}, init: {e['init']}}}\n"
        for key, e in train_entries(config).items()
    )
    sets = "".join(f"  {key}: {{run: {e['run']}}}\n" for key, e in train_set_entries(config).items())
    text = (
        "# Written by `seqit profile PROFILE` (smoke | sample | paper): the profile `dvc repro` runs, its\n"
        "# experiment.seeds, one entry per model of its run registry (stage train) and one per training set stage\n"
        f"# train_sets builds, from params/{profile}.yaml. Do not edit by hand.\n"
        f"profile: {profile}\nseeds: [{seeds}]\ntrain_runs:{' {}' if not entries else ''}\n{entries}"
        f"train_sets:{' {}' if not sets else ''}\n{sets}"
    )
    return write_text(root / "params.yaml", text)


def add_command(subparsers: Any) -> None:
    """`seqit profile PROFILE`: what `python -m seqit_utils.config PROFILE` does."""
    help_text = "validate params/PROFILE.yaml and make it the profile `dvc repro` runs"
    parser = subparsers.add_parser("profile", help=help_text, description=help_text)
    parser.add_argument("profile", choices=PROFILES)
    parser.set_defaults(func=lambda args: _switch(args.profile))


def _switch(profile: str) -> int:
    use_profile(profile)
    print(f"params.yaml: profile = {profile}; now run `dvc repro` (outputs go to outputs/{profile}/)")
    return 0
