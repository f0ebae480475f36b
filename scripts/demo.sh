#!/usr/bin/env bash
# `make demo`: the collector (embedded ClickHouse via chDB, data under .flowscope/), a few corpus
# workflows run under `auto-instrument` with the offline simulated LLM, then the dashboard.
# Ctrl-C stops everything this script started.
#
# Environment (all optional):
#   FLOWSCOPE_DEMO_DATA            data directory           (default: .flowscope)
#   FLOWSCOPE_DEMO_COLLECTOR_PORT  collector port           (default: 4318)
#   FLOWSCOPE_DEMO_DASHBOARD_PORT  dashboard port           (default: 8501)
#   FLOWSCOPE_DEMO_RUNS            runs per workflow        (default: 3)
#   FLOWSCOPE_DEMO_ONESHOT=1       check the data through the read API and exit (used by tests)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-$ROOT/.venv}
BIN=$VENV/bin
DATA=$(realpath -m "${FLOWSCOPE_DEMO_DATA:-.flowscope}")
CPORT=${FLOWSCOPE_DEMO_COLLECTOR_PORT:-4318}
DPORT=${FLOWSCOPE_DEMO_DASHBOARD_PORT:-8501}
RUNS=${FLOWSCOPE_DEMO_RUNS:-3}
CORPUS=${FLOWSCOPE_CORPUS:-$ROOT/../shared/dify-dsl}
COLLECTOR_URL=http://127.0.0.1:$CPORT
mkdir -p "$DATA"

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup INT TERM EXIT

wait_http() {  # url, name, pid
  for _ in $(seq 1 120); do
    if "$BIN/python" -c "import httpx,sys; sys.exit(0 if httpx.get('$1', timeout=1).status_code < 500 else 1)" 2>/dev/null; then
      return 0
    fi
    kill -0 "$3" 2>/dev/null || { echo "demo: $2 exited; see its log in $DATA" >&2; return 1; }
    sleep 0.5
  done
  echo "demo: $2 did not answer at $1" >&2
  return 1
}

echo "demo: starting the collector on $COLLECTOR_URL (store: chdb://$DATA/chdb)"
export FLOWSCOPE_DATABASE_URL=${FLOWSCOPE_DATABASE_URL:-sqlite:///$DATA/runs.db}
"$BIN/flowscope" collector --host 127.0.0.1 --port "$CPORT" --store "chdb://$DATA/chdb" \
  --database-url "$FLOWSCOPE_DATABASE_URL" \
  >"$DATA/collector.log" 2>&1 &
pids+=($!)
wait_http "$COLLECTOR_URL/healthz" collector "${pids[-1]}"

export OTEL_EXPORTER_OTLP_ENDPOINT=$COLLECTOR_URL
export FLOWSCOPE_LLM_PROVIDER=${FLOWSCOPE_LLM_PROVIDER:-simulated}
export FLOWSCOPE_CONVERSATIONS_DIR=${FLOWSCOPE_CONVERSATIONS_DIR:-$DATA/conversations}
run() {  # file, args...
  local file=$1; shift
  "$BIN/auto-instrument" --service-name flowscope-demo -- \
    "$BIN/flowscope" run "$CORPUS/$file" --json "$@" | tail -n 1 \
    || echo "demo: $file did not succeed (its trace shows why)"
}
echo "demo: running corpus workflows ($RUNS runs each) under auto-instrument"
for i in $(seq 1 "$RUNS"); do
  run SEO_Slug_Generator.yml --input "title=How observability saves LLM budgets, part $i"
  run translation_workflow.yml --input target_lang=French --input source_lang=English \
    --input "source_text=Every penny and millisecond, traced ($i)." --input country=France
  run json-repair.yml --input 'llm_string={"name": "flowscope", "nodes": [1, 2,'
  run dify_course_demo.yml --input "course_name=Observability 10$i"
done

# The case study (issue 7, the seed's story): a RAG workflow over a sharded knowledge base whose
# shard 2 times out. Without a retry policy the retrieval silently returns nothing (the dashboard
# flags the empty retrieval span, with its shard error and infrastructure links); with retry +
# fallback to the shard's replica (examples/case_study/kb-fixed.yaml) the next runs answer.
CASE=$ROOT/examples/case_study
CASE_KB=$DATA/case-study-kb
CASE_RUNS=${FLOWSCOPE_DEMO_CASE_RUNS:-2}
echo "demo: case study: building the sharded handbook knowledge base in $CASE_KB"
for shard in handbook-shard-1:shard-1 handbook-shard-2:shard-2 handbook-shard-2-replica:shard-2; do
  "$BIN/flowscope" kb --kb-dir "$CASE_KB" add "${shard%%:*}" "$CASE/docs/${shard#*:}" >/dev/null
done
case_run() {  # broken|fixed, run number
  FLOWSCOPE_KB_CONFIG=$CASE/kb-$1.yaml FLOWSCOPE_KB_DIR=$CASE_KB \
    "$BIN/auto-instrument" --service-name flowscope-demo -- \
    "$BIN/flowscope" run "$CASE/rag_support.yml" --json \
    --input "question=How long do refunds take? (case study, $1 config, run $2)" 2>/dev/null \
    | tail -n 1 || echo "demo: case study run ($1 config) did not succeed (its trace shows why)"
}
echo "demo: case study: $CASE_RUNS runs with no retry policy (shard 2 times out: empty answers)"
for i in $(seq 1 "$CASE_RUNS"); do case_run broken "$i"; done
echo "demo: case study: $CASE_RUNS runs with retry + fallback to the replica (fixed)"
for i in $(seq 1 "$CASE_RUNS"); do case_run fixed "$i"; done


# Infrastructure links on every trace and span (the case study's "click through to Jaeger"); point
# them at your own Jaeger / log system by exporting these before `make demo`.
export FLOWSCOPE_JAEGER_URL=${FLOWSCOPE_JAEGER_URL:-http://127.0.0.1:16686}
echo "demo: starting the dashboard on http://127.0.0.1:$DPORT"
"$BIN/flowscope" dashboard --host 127.0.0.1 --port "$DPORT" --collector "$COLLECTOR_URL" \
  >"$DATA/dashboard.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$DPORT/_stcore/health" dashboard "${pids[-1]}"

if [ "${FLOWSCOPE_DEMO_ONESHOT:-0}" = 1 ]; then
  # Wait until the collector has stored the spans, then check that cost and latency are there.
  "$BIN/python" - "$COLLECTOR_URL" <<'PY'
import sys, time, httpx
url = sys.argv[1]
need = {"SEO Slug Generator", "translation_workflow"}
deadline = time.time() + 90


def retrievals() -> list[dict]:
    """Retrieval spans of the case study's runs (empty ones and healthy ones)."""
    traces = httpx.get(
        f"{url}/api/traces", params={"workflow": "RAG Support Assistant", "limit": 50}, timeout=10
    ).json()["traces"]
    spans = [
        s
        for t in traces
        for s in httpx.get(f"{url}/api/traces/{t['trace_id']}", timeout=10).json()["spans"]
    ]
    return [s["attributes"] for s in spans if s["attributes"].get("flowscope.span.kind") == "retrieval"]


while True:
    nodes = httpx.get(f"{url}/api/stats/nodes", timeout=10).json()["nodes"]
    costly = {n["workflow"] for n in nodes if n["cost_usd"] > 0 and n["p95_ms"] > 0}
    found = retrievals() if need <= costly else []
    counts = sorted(str(a.get("flowscope.retrieval.result_count")) for a in found)
    empty = [a for a in found if str(a.get("flowscope.retrieval.result_count")) == "0"]
    timed_out = [a for a in empty if "timed out" in str(a.get("flowscope.retrieval.shard_errors"))]
    runs = httpx.get(f"{url}/api/runs", params={"limit": 100}, timeout=10).json()["runs"]
    if need <= costly and timed_out and len(empty) < len(found) and runs:
        print(f"demo: run history holds {len(runs)} runs")
        print(f"demo: ok, {len(nodes)} nodes with stats; workflows with cost: {sorted(costly)}; "
              f"case study retrievals (result counts): {counts}")
        break
    if time.time() > deadline:
        sys.exit(f"demo: expected cost and latency for {sorted(need)} and empty + healthy case "
                 f"study retrievals, got {nodes} / {found}")
    time.sleep(1)
PY
  exit 0
fi

cat <<MSG

  flowscope demo is running:
    collector (OTLP/HTTP + read API): $COLLECTOR_URL      (API docs: $COLLECTOR_URL/docs)
    dashboard:                        http://127.0.0.1:$DPORT

  Logs: $DATA/collector.log, $DATA/dashboard.log. Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}"
