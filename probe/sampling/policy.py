"""Sampling policy files: the YAML format, validated once at the edge into frozen pydantic models.

A policy is an ordered list of rules (first match wins, the last rule is the catch-all default)
plus the settings of the error boost, the adaptive controller and hot reload. See
``examples/sampling.yaml`` for a commented example and ``docs/sampling.md`` for the semantics.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from probe.sampling.errors import PolicyError

SpanKind = Literal[
    "workflow",
    "node",
    "llm",
    "retrieval",
    "embedding",
    "http",
    "tool",
    "code",
    "iteration",
    "loop",
    "branch",
    "trigger",
]

# Attributes the probe hands to ``SpanSampler.decide`` (see api.py); a rule may only match those.
MATCHABLE_ATTRIBUTES = ("critical",)


def _as_list(value: object) -> object:
    """Let a match field be written as one value or as a list of values."""
    if isinstance(value, str | bool):
        return [value]
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Frozen):
    """What a rule applies to. Every given field must match; an absent field matches anything."""

    kind: tuple[SpanKind, ...] | None = None
    node_type: tuple[str, ...] | None = None
    workflow: tuple[str, ...] | None = Field(
        default=None, description="glob patterns, matched against the workflow name or id"
    )
    attributes: dict[str, bool] | None = None

    _listify = field_validator("kind", "node_type", "workflow", mode="before")(_as_list)

    @field_validator("attributes")
    @classmethod
    def _known_attributes(cls, value: dict[str, bool] | None) -> dict[str, bool] | None:
        for name in value or {}:
            if name not in MATCHABLE_ATTRIBUTES:
                raise ValueError(
                    f"attribute {name!r} is not known when the probe decides; "
                    f"supported: {', '.join(MATCHABLE_ATTRIBUTES)}"
                )
        return value

    def matches(
        self, kind: str, workflow: str | None, node_type: str | None, critical: bool
    ) -> bool:
        if self.kind is not None and kind not in self.kind:
            return False
        if self.node_type is not None and node_type not in self.node_type:
            return False
        if self.workflow is not None and (
            workflow is None or not any(fnmatch.fnmatchcase(workflow, p) for p in self.workflow)
        ):
            return False
        return not (self.attributes and self.attributes.get("critical", critical) != critical)

    @property
    def is_catch_all(self) -> bool:
        return (
            self.kind is None
            and self.node_type is None
            and self.workflow is None
            and not self.attributes
        )


class Rule(_Frozen):
    id: str = Field(min_length=1, description="recorded as sampling.reason on kept spans")
    match: Match = Field(default_factory=Match)
    rate: float = 1.0
    critical: bool = Field(
        default=False,
        description="always kept, never scaled down, kept even under a dropped parent",
    )
    adaptive: bool = Field(default=True, description="the adaptive controller may scale it down")

    @field_validator("rate", mode="before")
    @classmethod
    def _probability(cls, value: object) -> object:
        # Before coercion, so the message quotes the value as written (1.5, -1, not -1.0).
        if isinstance(value, bool):
            raise ValueError(f"must be a number between 0 and 1, got {value!r}")
        number = value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                return value  # pydantic reports "a valid number" with the value
        if isinstance(number, int | float) and not 0.0 <= number <= 1.0:
            raise ValueError(f"must be between 0 and 1, got {value!r}")
        return value

    @model_validator(mode="after")
    def _critical_is_full_rate(self) -> Rule:
        if self.critical and self.rate != 1.0:
            raise ValueError(f"a critical rule keeps every span; rate must be 1.0, got {self.rate}")
        return self


class ErrorBoostSettings(_Frozen):
    enabled: bool = True
    threshold: float = Field(default=0.01, gt=0.0, le=1.0)
    window_seconds: float = Field(default=60.0, gt=0.0)
    buckets: int = Field(default=12, ge=1, le=600)
    min_spans: int = Field(default=20, ge=1, description="no boost before this many in the window")
    recover_ratio: float = Field(default=0.5, gt=0.0, le=1.0)
    min_hold_seconds: float = Field(default=30.0, ge=0.0)
    debug_logging: bool = True


class AdaptiveSettings(_Frozen):
    enabled: bool = True
    target_spans_per_second: float | None = Field(default=None, gt=0.0)
    target_queue_depth: int | None = Field(default=None, gt=0)
    interval_seconds: float = Field(default=5.0, gt=0.0)
    dead_band: float = Field(default=0.1, ge=0.0, lt=1.0)
    max_increase: float = Field(default=1.25, gt=1.0)
    max_decrease: float = Field(default=0.01, gt=0.0, le=1.0, description="smallest step factor")
    min_traces_per_minute: float = Field(default=1.0, ge=0.0)


class Settings(_Frozen):
    error_boost: ErrorBoostSettings = Field(default_factory=ErrorBoostSettings)
    adaptive: AdaptiveSettings = Field(default_factory=AdaptiveSettings)
    reload_interval_seconds: float = Field(default=2.0, gt=0.0)


class Policy(_Frozen):
    version: Literal[1] = 1
    settings: Settings = Field(default_factory=Settings)
    rules: tuple[Rule, ...]

    @model_validator(mode="after")
    def _one_default_last(self) -> Policy:
        if not self.rules:
            raise ValueError("at least the default rule (one with no `match`) is required")
        seen: dict[str, int] = {}
        for index, rule in enumerate(self.rules):
            if rule.id in seen:
                raise ValueError(
                    f"rules[{index}].id {rule.id!r} repeats rules[{seen[rule.id]}].id; "
                    "rule ids must be unique"
                )
            seen[rule.id] = index
            if rule.match.is_catch_all and index != len(self.rules) - 1:
                raise ValueError(
                    f"rules[{index}] ({rule.id!r}) matches everything, so rules[{index + 1}] and "
                    "later would never apply; the catch-all default rule must be last"
                )
        if not self.rules[-1].match.is_catch_all:
            raise ValueError(
                f"a default rule is required: the last rule (rules[{len(self.rules) - 1}], "
                f"{self.rules[-1].id!r}) must have no `match`"
            )
        return self

    def first_match(
        self, kind: str, workflow: str | None, node_type: str | None, critical: bool
    ) -> Rule:
        for rule in self.rules:
            if rule.match.matches(kind, workflow, node_type, critical):
                return rule
        return self.rules[-1]  # unreachable: the last rule is a catch-all


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


_BOUNDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}


def _describe(source: str, error: ValidationError) -> str:
    """One line per problem: ``file: rules[2].rate must be between 0 and 1, got 1.5``."""
    lines = []
    for item in error.errors():
        where = _path(tuple(item["loc"]))
        place = f"{source}: {where}" if where else source
        kind = item["type"]
        if kind == "value_error":  # our own validators: the message carries the value
            message = item["msg"].removeprefix("Value error, ")
            lines.append(f"{place}{' ' if message.startswith('must') else ': '}{message}")
        elif kind == "missing":
            lines.append(f"{place} is required")
        elif kind == "extra_forbidden":
            lines.append(f"{place} is not a known setting, got {item['input']!r}")
        elif kind == "literal_error":
            expected = item.get("ctx", {}).get("expected", "?")
            lines.append(f"{place} must be one of {expected}, got {item['input']!r}")
        elif kind in _BOUNDS:
            bound = next(iter(item.get("ctx", {}).values()), "?")
            lines.append(f"{place} must be {_BOUNDS[kind]} {bound}, got {item['input']!r}")
        else:
            lines.append(
                f"{place}: {item['msg'][0].lower()}{item['msg'][1:]}, got {item['input']!r}"
            )
    return "; ".join(lines)


def parse_policy(data: Any, source: str = "<policy>") -> Policy:
    """Validate already-parsed YAML/JSON data; errors name ``source``, the path and the value."""
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: a sampling policy is a mapping with `rules`, got {data!r}")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_describe(source, exc)) from None


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{file}: cannot read sampling policy: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{file}: not valid YAML: {exc}") from None
    return parse_policy(data, str(file))
