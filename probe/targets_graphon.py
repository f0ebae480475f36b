"""Targets for graphon, Dify's own workflow engine (``pip install graphon``), version 0.8.

graphon drives a run as a generator, runs nodes on its own worker threads and suspends
iteration / loop nodes between rounds, so the whole run is traced by an engine *layer* (graphon's
documented tracing hook, :mod:`probe.graphon.layer`) that the probe puts into every ``Engine``
(:mod:`probe.graphon.install`, a post-import hook on ``graphon.engine.engine``). The layer gives
the same span names and attributes as workflow_core's targets: ``invoke_workflow {name}``,
``{node_type} {title}``, ``iteration[i]`` / ``loop[i]``; it activates each node's span on the
worker thread running it, so calls made inside a node (the model runtime, the code sandbox, HTTP)
are traced as its children by their own targets.

graphon's own model runtime, ``SlimLLM`` (the Slim plugin daemon), streams its answer through a
generator, so its ``chat {model}`` spans come from a generator-aware wrapper
(:mod:`probe.graphon.llm`) installed by the same hook. The synchronous call sites inside graphon
nodes are plain targets below.

Importing this module imports nothing from graphon.
"""

from __future__ import annotations

from probe import extractors as x
from probe import semconv
from probe.graphon import extractors as gx
from probe.graphon import install
from probe.spec import Target, TargetSet

SUPPORTED = ">=0.8,<0.9"

TARGET_SET = TargetSet(
    library="graphon",
    distribution="graphon",
    supported=SUPPORTED,
    description="graphon, Dify's workflow engine (run, nodes and rounds through an engine layer)",
    targets=(
        Target(
            "graphon.dsl.code_runtime:SandboxCodeExecutor.execute",
            semconv.KIND_CODE,
            ("language", "code", "inputs"),
            enter=x.enter_call,
            describe=x.describe_code,
        ),
        Target(
            "graphon.http.client:HttpxHttpClient._request",
            semconv.KIND_HTTP,
            ("method", "url", "max_retries", "kwargs"),
            enter=x.enter_call,
            describe=gx.describe_http,
            finish=x.finish_http,
            prepare=gx.inject_traceparent,
            failed=x.http_failed,
        ),
    ),
)

install.register(SUPPORTED)
