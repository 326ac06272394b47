"""What every section of `seqit_utils.config` builds on: the profile names, the strict pydantic base class (unknown
keys and wrong types are errors) and the two checks the cross-section validators share (`_check_choice`: a value
must name a defined entry; `_check_fields`: a section with changes merged in must still validate).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

PROFILES = ("smoke", "sample", "paper")
# Tasks of the built-in suite are checked by `seqit_utils.data.tasks` itself when the suite is generated.


class _Strict(BaseModel):
    # Unknown keys are errors (a typo must not silently fall back to a default); no type coercion ("3" is not 3).
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _check_choice(key: str, value: str, choices: dict[str, Any]) -> None:
    if value not in choices:
        raise ValueError(f"{key} = {value!r} is not defined; allowed values: {', '.join(sorted(choices)) or '(none)'}")


def _check_fields(key: str, model: type[BaseModel], values: dict[str, Any]) -> None:
    """Validate `values` (a section with changes merged in) as `model`; errors name `key` and the allowed fields."""
    try:
        model.model_validate(values)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ValueError(f"{key}: {problems}; allowed keys: {', '.join(model.model_fields)}") from None
