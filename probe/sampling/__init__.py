"""Sampling decisions for the probe: policies from YAML, error boost, adaptive control."""

from probe.sampling.api import ALWAYS_ON, Decision, SpanSampler

__all__ = ["ALWAYS_ON", "Decision", "SpanSampler"]
