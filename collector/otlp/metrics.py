"""OTLP metrics → rows of ``flowscope_usage`` (sums and gauges; other types are not stored).

The probe's usage counters (see docs/contracts.md, "Usage metrics") count every LLM call whether
its span was sampled or not, so the read API's ``true_*`` totals come from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import AGGREGATION_TEMPORALITY_CUMULATIVE

from collector.otlp.rows import attributes

USAGE_COLUMNS: tuple[str, ...] = (
    "Timestamp",
    "StartTimestamp",
    "ServiceName",
    "ServiceInstance",
    "MetricName",
    "Attributes",
    "Cumulative",
    "Value",
)


def metrics_to_columns(
    requests: Sequence[ExportMetricsServiceRequest],
) -> tuple[list[list[Any]], int]:
    cols: list[list[Any]] = [[] for _ in USAGE_COLUMNS]
    ts, start, service, instance, name, attrs, cumulative, value = cols
    count = 0
    for request in requests:
        for resource_metrics in request.resource_metrics:
            resource = attributes(resource_metrics.resource.attributes)
            service_name = resource.get("service.name", "")
            service_instance = resource.get("service.instance.id", "")
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    which = metric.WhichOneof("data")
                    if which == "sum":
                        points = metric.sum.data_points
                        is_cumulative = (
                            metric.sum.aggregation_temporality == AGGREGATION_TEMPORALITY_CUMULATIVE
                        )
                    elif which == "gauge":
                        points = metric.gauge.data_points
                        is_cumulative = False
                    else:
                        continue
                    for point in points:
                        number = point.WhichOneof("value")
                        ts.append(point.time_unix_nano)
                        start.append(point.start_time_unix_nano)
                        service.append(service_name)
                        instance.append(service_instance)
                        name.append(metric.name)
                        attrs.append(attributes(point.attributes))
                        cumulative.append(1 if is_cumulative else 0)
                        value.append(float(point.as_int if number == "as_int" else point.as_double))
                        count += 1
    return cols, count
