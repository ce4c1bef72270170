# The cg-operator image: `docker build -t <repository>:<version> .`
#
# Stage 1 builds the operator's wheel and the wheels of its dependencies; stage 2 installs them
# from those wheels only (no index, no compiler) and runs as the non-root user 65532, as the
# Helm chart's securityContext expects. tests/unit/test_chart_dockerfile.py keeps this file, the
# package's console script and the chart in step; tests/integration/test_wheel.py runs what the
# image runs (the wheel in a clean environment) against a real cluster.

# python:3.11-slim-bookworm, pinned by digest so a rebuild gets the same base.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
# The operator's wheel, then a wheel for every dependency it declares.
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m pip wheel --wheel-dir /wheels /wheels/cg_operator-*.whl

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG SOURCE_URL=""
LABEL org.opencontainers.image.title="cg-operator" \
      org.opencontainers.image.description="The App Store for Common Ground components, as a Kubernetes operator" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="EUPL-1.2" \
      org.opencontainers.image.version="${VERSION}"
# MALLOC_MMAP_THRESHOLD_: watch events of large objects (a ConfigMap near 1 MiB) are parsed and
# dropped; with glibc's adaptive threshold those buffers move to the heap and RSS keeps their
# high-water mark (80 such events: +68 MiB). A fixed 128 KiB threshold maps them and gives them
# back (+5 MiB). Measured by `hack/measure_watch_memory.sh`.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    MALLOC_MMAP_THRESHOLD_=131072
# Installed from the build stage's wheels only; the wheels themselves do not stay in the image.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m pip install --no-index --find-links=/wheels cg-operator \
 && groupadd --gid 65532 cg-operator \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin cg-operator
USER 65532:65532
# kopf's health endpoint and /metrics.
EXPOSE 8080 8081
ENTRYPOINT ["cg-operator"]
CMD ["run"]
