"""Number formats of the metric tiles: readable, never cut."""

from __future__ import annotations

import pytest

from dashboard.ui import fmt_ms, fmt_usd


@pytest.mark.parametrize(
    ("usd", "shown"),
    [
        (0, "$0"),
        (0.026, "$0.026"),
        (0.006, "$0.006"),
        (0.00123456, "$0.00123"),
        (0.0000004, "$0.0000004"),
        (0.5, "$0.5"),
        (12.5, "$12.50"),
        (1234.56, "$1,235"),
        (-0.002, "-$0.002"),
    ],
)
def test_cost_has_three_significant_digits_below_a_dollar_and_cents_above(
    usd: float, shown: str
) -> None:
    assert fmt_usd(usd) == shown


def test_latency_reads_in_ms_then_seconds() -> None:
    assert fmt_ms(315.4) == "315 ms"
    assert fmt_ms(12.34) == "12.3 ms"
    assert fmt_ms(12_500) == "12.5 s"
