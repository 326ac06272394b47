"""Finding and reading a profile: the project root, `params/<profile>.yaml`, `load_config` / `validate` (errors
rewritten to name the file, the dotted key and the allowed keys, with a did-you-mean hint) and the data folder.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from seqit_utils.config.profile import Config


def find_project_root(start: str | Path | None = None) -> Path:
    """The nearest directory at or above `start` (default: cwd) holding `params/` and `dvc.yaml`."""
    here = Path(start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "params").is_dir() and (candidate / "dvc.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"no seqit project (a folder with params/ and dvc.yaml) at or above {here}; "
        "run from inside the seqit checkout or pass its path"
    )


def params_path(profile: str, root: str | Path | None = None) -> Path:
    """`params/<profile>.yaml` of the project."""
    root = find_project_root(root)
    path = root / "params" / f"{profile}.yaml"
    if not path.is_file():
        found = sorted(p.stem for p in (root / "params").glob("*.yaml"))
        raise ValueError(f"profile = {profile!r} has no file {path}; allowed values: {', '.join(found)}")
    return path


def load_config(profile: str = "smoke", root: str | Path | None = None, path: str | Path | None = None) -> Config:
    """Read and validate `params/<profile>.yaml` (or an explicit `path`) into a `Config`."""
    path = Path(path) if path else params_path(profile, root)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    if "profile" in raw:
        raise ValueError(f"{path}: 'profile' is not a key; the profile is the file name ({path.stem})")
    return validate(raw | {"profile": profile}, source=str(path))


def validate(raw: dict[str, Any], source: str = "<params>") -> Config:
    """Validate a parsed params mapping; errors name `source`, the dotted key and what is allowed."""
    try:
        return Config.model_validate(raw)
    except ValidationError as err:
        raise ValueError(_explain(err, source)) from None


def data_dir(config: Config) -> str | None:
    """The data folder for loaders: `data.data_dir` if set, else `$SEQIT_DATA_DIR` (None if neither)."""
    return config.data.data_dir or os.environ.get("SEQIT_DATA_DIR") or None


def _explain(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid parameters ({err.error_count()} problem(s)):"]
    for problem in err.errors():
        loc = [str(part) for part in problem["loc"]]
        key = ".".join(loc) or "(top level)"
        if problem["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1])
            hint = difflib.get_close_matches(loc[-1], allowed, n=1, cutoff=0.5)
            maybe = f" (did you mean {hint[0]!r}?)" if hint else ""
            lines.append(f"  - {key}: unknown key{maybe}; allowed keys here: {', '.join(allowed)}")
        elif problem["type"] == "missing":
            lines.append(f"  - {key}: required key is missing")
        else:
            got = problem.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"  - {key}: {problem['msg']}{shown}")
    return "\n".join(lines)


def _allowed_keys(loc: list[str]) -> list[str]:
    """Field names of the model found by walking `loc` from `Config` (dict keys are stepped over)."""
    annotation: Any = Config
    steps = list(loc)
    while steps:
        annotation = _unwrap(annotation)
        if typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
            steps.pop(0)
            continue
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        field = annotation.model_fields.get(steps.pop(0))
        if field is None:
            return []
        annotation = field.annotation
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return sorted(name for name in annotation.model_fields if name != "profile")
    return []


def _unwrap(annotation: Any) -> Any:
    """`X | None` → `X`."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and args:
        return args[0]
    return annotation
