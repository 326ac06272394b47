"""`python -m seqit_utils.config PROFILE`: validate `params/PROFILE.yaml` and make it the profile `dvc repro` runs
(the same as `seqit profile PROFILE`)."""

from __future__ import annotations

import sys

from seqit_utils.config.switch import _switch

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: python -m seqit_utils.config PROFILE   (makes `dvc repro` run params/PROFILE.yaml)")
    try:
        _switch(sys.argv[1])
    except ValueError as err:
        sys.exit(f"error: {err}")
