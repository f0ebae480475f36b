"""Span names and attribute keys the probe emits (contract: docs/contracts.md).

The ``flowscope.*`` keys are read by the collector and the dashboard: extend, never rename.
The ``gen_ai.*`` keys follow the OpenTelemetry GenAI semantic conventions.
"""

from __future__ import annotations

from typing import Final

# flowscope.span.kind values
KIND_WORKFLOW: Final = "workflow"
KIND_NODE: Final = "node"
KIND_LLM: Final = "llm"
KIND_RETRIEVAL: Final = "retrieval"
KIND_EMBEDDING: Final = "embedding"
KIND_HTTP: Final = "http"
KIND_TOOL: Final = "tool"
KIND_CODE: Final = "code"
KIND_ITERATION: Final = "iteration"
KIND_LOOP: Final = "loop"
KIND_BRANCH: Final = "branch"
KIND_TRIGGER: Final = "trigger"

SPAN_KIND: Final = "flowscope.span.kind"

WORKFLOW_ID: Final = "flowscope.workflow.id"
WORKFLOW_NAME: Final = "flowscope.workflow.name"
WORKFLOW_RUN_ID: Final = "flowscope.workflow.run_id"
WORKFLOW_MODE: Final = "flowscope.workflow.mode"
WORKFLOW_STATUS: Final = "flowscope.workflow.status"

NODE_ID: Final = "flowscope.node.id"
NODE_TYPE: Final = "flowscope.node.type"
NODE_TITLE: Final = "flowscope.node.title"
NODE_INPUTS: Final = "flowscope.node.inputs"
NODE_OUTPUTS: Final = "flowscope.node.outputs"
NODE_STATUS: Final = "flowscope.node.status"

ITERATION_INDEX: Final = "flowscope.iteration.index"
LOOP_INDEX: Final = "flowscope.loop.index"

RETRY_ATTEMPT: Final = "flowscope.retry.attempt"
ERROR_STRATEGY: Final = "flowscope.error_strategy"
ERROR_STRATEGY_OUTCOME: Final = "flowscope.error_strategy.outcome"

COST_USD: Final = "flowscope.cost.usd"
SAMPLING_RATE: Final = "sampling.rate"
SAMPLING_REASON: Final = "sampling.reason"

TRIGGER_TYPE: Final = "flowscope.trigger.type"
TRIGGER_ID: Final = "flowscope.trigger.id"
TRIGGER_EVENT_ID: Final = "flowscope.trigger.event_id"

# Attributes of the non-LLM child spans.
RETRIEVAL_QUERY: Final = "flowscope.retrieval.query"
RETRIEVAL_TOP_K: Final = "flowscope.retrieval.top_k"
RETRIEVAL_DATASETS: Final = "flowscope.retrieval.dataset_ids"
RETRIEVAL_COUNT: Final = "flowscope.retrieval.result_count"
RETRIEVAL_SCORES: Final = "flowscope.retrieval.scores"
EMBEDDING_COUNT: Final = "flowscope.embedding.input_count"
TOOL_PROVIDER: Final = "flowscope.tool.provider"
CODE_LANGUAGE: Final = "flowscope.code.language"

# OpenTelemetry GenAI semantic conventions
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"

# OpenTelemetry HTTP / error semantic conventions
HTTP_REQUEST_METHOD: Final = "http.request.method"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
URL_FULL: Final = "url.full"
ERROR_TYPE: Final = "error.type"
