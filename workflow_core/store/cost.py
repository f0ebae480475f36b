"""Cost of the LLM calls a node made, priced with genai-prices (unknown models cost ``None``)."""

from __future__ import annotations

import functools
import logging
from decimal import Decimal

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4096)
def llm_call_cost(
    provider: str, model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0
) -> Decimal | None:
    """US dollars for one call, or ``None`` when genai-prices does not know the model."""
    if not model or (input_tokens == 0 and output_tokens == 0):
        return Decimal(0)
    try:
        from genai_prices import Usage, calc_price
    except ImportError:  # the optional price table is not installed
        return None
    usage = Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cached_tokens or None,
    )
    for provider_id in (provider, None) if provider else (None,):
        try:
            price = calc_price(usage, model_ref=model, provider_id=provider_id)
        except LookupError as exc:
            logger.debug("genai-prices cannot price %s/%s: %s", provider, model, exc)
            continue
        return Decimal(str(price.total_price))
    return None
