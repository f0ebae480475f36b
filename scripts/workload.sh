#!/usr/bin/env bash
# Demo workload for docker compose: runs corpus workflows under auto-instrument against the
# collector named by OTEL_EXPORTER_OTLP_ENDPOINT, with the offline simulated LLM.
set -uo pipefail
CORPUS=${FLOWSCOPE_CORPUS:-/app/corpus}
RUNS=${FLOWSCOPE_WORKLOAD_RUNS:-20}
for i in $(seq 1 "$RUNS"); do
  auto-instrument --service-name flowscope-workload -- flowscope run "$CORPUS/SEO_Slug_Generator.yml" \
    --json --input "title=Observability in production, part $i" | tail -n 1
  auto-instrument --service-name flowscope-workload -- flowscope run "$CORPUS/translation_workflow.yml" \
    --json --input target_lang=German --input source_lang=English \
    --input "source_text=Trace every node ($i)." | tail -n 1
done
