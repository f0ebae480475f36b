"""flowscope's workflow core: loads Dify DSL exports and runs them.

This package knows nothing about observability: it imports none of ``probe``, ``collector``,
``dashboard`` nor OpenTelemetry. The probe observes it from outside, by wrapping its methods.
"""

__version__ = "0.1.0"
