"""Cost of LLM usage: genai-prices, overridable by a YAML price file.

Price file (``FLOWSCOPE_PRICES_FILE``)::

    models:
      - match: my-llama-70b          # exact name (default)
        input_per_mtok: 0.6          # USD per million input tokens
        output_per_mtok: 0.8
        cache_read_per_mtok: 0.3     # optional, defaults to input_per_mtok
      - match: "mistral-*"           # glob
        kind: glob
        provider: mistral            # optional: only for this provider
        input_per_mtok: 0.2
        output_per_mtok: 0.6
      - match: "^ft:.*"              # regex
        kind: regex
        input_per_mtok: 3
        output_per_mtok: 12

The first matching entry of the file wins; otherwise genai-prices prices the call; otherwise the
cost is 0 with source ``unknown``.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from collector.errors import PriceFileError

logger = logging.getLogger(__name__)

PriceSource = Literal["provided", "price-file", "genai-prices", "unknown", ""]


class PriceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    match: str
    kind: Literal["exact", "glob", "regex"] = "exact"
    provider: str | None = None
    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cache_read_per_mtok: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _regex_compiles(self) -> PriceEntry:
        if self.kind == "regex":
            try:
                re.compile(self.match)
            except re.error as exc:
                raise ValueError(f"match {self.match!r} is not a valid regex: {exc}") from None
        return self

    def matches(self, provider: str, model: str) -> bool:
        if self.provider is not None and self.provider != provider:
            return False
        if self.kind == "exact":
            return model == self.match
        if self.kind == "glob":
            return fnmatch.fnmatchcase(model, self.match)
        return re.fullmatch(self.match, model) is not None


class PriceFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    models: list[PriceEntry] = []


def load_price_file(path: Path) -> PriceFile:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PriceFileError(f"{path}: cannot read price file: {exc}") from None
    except yaml.YAMLError as exc:
        raise PriceFileError(f"{path}: not valid YAML: {exc}") from None
    try:
        return PriceFile.model_validate(doc or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PriceFileError(f"{path}: {where}: {first['msg']}") from None


@dataclass(frozen=True)
class Usage:
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0


class Pricer:
    """Prices one LLM call. Thread-safe; genai-prices look-ups are cached per (provider, model)."""

    def __init__(self, price_file: PriceFile | None = None) -> None:
        self._entries = tuple(price_file.models) if price_file else ()

    def price(self, usage: Usage) -> tuple[float, PriceSource]:
        if not usage.model or (usage.input_tokens == 0 and usage.output_tokens == 0):
            return 0.0, ""
        for entry in self._entries:
            if entry.matches(usage.provider, usage.model):
                cached = min(usage.cache_read_tokens, usage.input_tokens)
                cache_rate = (
                    entry.cache_read_per_mtok
                    if entry.cache_read_per_mtok is not None
                    else entry.input_per_mtok
                )
                cost = (
                    (usage.input_tokens - cached) * entry.input_per_mtok
                    + cached * cache_rate
                    + usage.output_tokens * entry.output_per_mtok
                ) / 1e6
                return cost, "price-file"
        return _genai_price(
            usage.provider,
            usage.model,
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
        )


def _genai_price(
    provider: str, model: str, input_tokens: int, output_tokens: int, cache_read: int
) -> tuple[float, PriceSource]:
    found = _model_price(provider, model)
    if found is None:
        _log_unknown(provider, model)
        return 0.0, "unknown"
    linear, model_price = found
    if linear is not None:  # flat per-token prices: plain arithmetic, no Decimal per span
        per_input, per_cache, per_output = linear
        cached = min(cache_read, input_tokens)
        cost = (input_tokens - cached) * per_input + cached * per_cache
        return cost + output_tokens * per_output, "genai-prices"
    from genai_prices import Usage as GenaiUsage

    usage = GenaiUsage(
        input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cache_read or None
    )
    return float(model_price.calc_price(usage)["total_price"]), "genai-prices"


@functools.lru_cache(maxsize=4096)
def _model_price(provider: str, model: str) -> tuple[tuple[float, float, float] | None, Any] | None:
    """genai-prices' current price of a model (None: unknown), with flat rates when not tiered."""
    from genai_prices import Usage as GenaiUsage
    from genai_prices import calc_price

    for provider_id in [provider, None] if provider else [None]:
        try:
            result = calc_price(
                GenaiUsage(input_tokens=1), model_ref=model, provider_id=provider_id
            )
        except Exception as exc:  # LookupError for unknown models/providers, and others
            logger.debug("genai-prices cannot price %s/%s: %s", provider, model, exc)
            continue
        price = result.model_price
        rates = (price.input_mtok, price.cache_read_mtok or price.input_mtok, price.output_mtok)
        flat = [
            float(r) if isinstance(r, int | Decimal) else 0.0 if r is None else None for r in rates
        ]
        if None not in flat:
            per_input, per_cache, per_output = (float(r or 0) / 1e6 for r in flat)
            return (per_input, per_cache, per_output), price
        return None, price
    return None


@functools.lru_cache(maxsize=1024)
def _log_unknown(provider: str, model: str) -> None:
    logger.warning(
        "no price for model %r (provider %r); add it to FLOWSCOPE_PRICES_FILE", model, provider
    )


def build_pricer(path: Path | None) -> Pricer:
    return Pricer(load_price_file(path) if path else None)
