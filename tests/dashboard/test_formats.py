"""Number formats of the metric tiles (readable, never cut) and of log record times."""

from __future__ import annotations

import pytest

from dashboard.ui import fmt_ms, fmt_stamp, fmt_usd


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


@pytest.mark.parametrize(
    ("unix_nano", "shown"),
    [
        (1_700_000_000_000_000_000, "2023-11-14 22:13:20.000"),
        (1_700_000_000_123_999_999, "2023-11-14 22:13:20.123"),  # truncated, not rounded up
        (1_700_000_000_999_999_999, "2023-11-14 22:13:20.999"),  # still the same second
        (0, "1970-01-01 00:00:00.000"),
    ],
)
def test_log_time_reads_in_utc_to_the_millisecond(unix_nano: int, shown: str) -> None:
    assert fmt_stamp(unix_nano) == shown
