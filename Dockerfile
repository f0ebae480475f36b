# flowscope image: collector, dashboard, workflow core + probe (one image, several commands).
# Multi-stage: wheels are built in the first stage; the runtime stage has no compiler and runs
# as an unprivileged user.
FROM python:3.11.14-slim-bookworm AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip wheel
COPY pyproject.toml README.md ./
COPY workflow_core ./workflow_core
COPY probe ./probe
COPY collector ./collector
COPY dashboard ./dashboard
# Not `.[all]`: its `embeddings` extra pins torch, which from PyPI is the multi-GB CUDA build; the
# collector, dashboard, run store and the demo workload need none of it.
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[collector,dashboard,store]'

FROM python:3.11.14-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 flowscope \
 && useradd --system --uid 10001 --gid flowscope --home-dir /var/lib/flowscope --create-home flowscope
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /app
COPY scripts/workload.sh /app/scripts/workload.sh
USER flowscope
EXPOSE 4318 8501
CMD ["flowscope", "--help"]
