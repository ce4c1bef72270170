# cg-operator: developer entry points. `make help` lists them.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
BIN_DIR := $(shell hack/bin-dir.sh)
# The cluster the operator and the tests use: $KUBECONFIG when set, else the local one.
EXTERNAL_KUBECONFIG := $(KUBECONFIG)
# KUBECONFIG set to the local cluster's own file (`export KUBECONFIG=$(make -s kubeconfig)`)
# still means the local cluster.
ifeq ($(EXTERNAL_KUBECONFIG),$(CURDIR)/.local/kubeconfig)
EXTERNAL_KUBECONFIG :=
endif
export KUBECONFIG := $(shell hack/kubeconfig.sh)
export PATH := $(BIN_DIR):$(PATH)

.PHONY: help venv binaries tools test-real test-faults cluster-up cluster-down kubeconfig run test test-unit test-integration \
        test-e2e browser appstore lint crds chart chart-lint verify bench clean \
        realnode-deps realnode-up realnode-down test-realnode

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(PY): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(PY)

venv: $(PY) ## create .venv with the package and its dev tools

binaries: realnode-deps ## build the tools, the control plane and the real node from Go modules (cached; cold: ~23 min on 2 cores)
	hack/build-binaries.sh all

tools: ## build only helm, prometheus and promtool, and copy the Gateway API CRDs, from Go modules (cached; cold: a few minutes)
	hack/build-binaries.sh tools

cluster-up: ## start the local control plane unless KUBECONFIG names a cluster
ifeq ($(EXTERNAL_KUBECONFIG),)
	hack/build-binaries.sh cluster
	hack/cluster-up.sh
else
	@echo "using the cluster in KUBECONFIG=$(EXTERNAL_KUBECONFIG)" >&2
endif

cluster-down: ## stop and remove the local control plane
	hack/cluster-down.sh

kubeconfig: ## print the kubeconfig path that run and test use
	@echo $(KUBECONFIG)

run: venv cluster-up ## local cluster + CRDs + examples, then the operator in the foreground
	kubectl apply --server-side --force-conflicts -f crds/
	kubectl wait --for=condition=Established --timeout=60s -f crds/
	kubectl apply --server-side -R -f examples/catalog -f examples/tenants -f examples/rollouts
	@# The tenants' credentials go into their namespaces once the operator has made them.
	hack/apply-tenant-secrets.sh & $(VENV)/bin/cg-operator run --liveness http://127.0.0.1:8080/healthz

browser: ## install Debian's chromium and chromium-driver for the browser tests, unless present (apt-get; root or sudo)
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then \
		echo "chromium and chromedriver are installed"; \
	else \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq chromium chromium-driver; \
	fi

realnode-deps: ## install Debian's libseccomp-dev, pkg-config, containernetworking-plugins, busybox-static, buildah and mmdebstrap for the real node, unless present (apt-get; root or sudo)
	@if [ -x /usr/lib/cni/loopback ] && pkg-config --exists libseccomp 2>/dev/null && [ -x /bin/busybox ] \
		&& command -v buildah >/dev/null && command -v mmdebstrap >/dev/null; then \
		echo "libseccomp-dev, containernetworking-plugins, busybox-static, buildah and mmdebstrap are installed"; \
	else \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq --no-install-recommends \
			libseccomp-dev pkg-config containernetworking-plugins busybox-static buildah mmdebstrap; \
	fi

realnode-up: realnode-deps cluster-up ## join a real kubelet (containerd, runc) to the local cluster as node 127.0.0.1, tainted; hostNetwork pods only (root)
	hack/build-binaries.sh realnode
	hack/realnode-up.sh

realnode-down: ## remove the real node and everything it left on the host (processes, mounts, cgroups, folders)
	hack/realnode-down.sh

appstore: venv ## the App Store page on http://127.0.0.1:8090 as the kubeconfig's user (after `make run`)
	$(VENV)/bin/cg-operator appstore --kubeconfig $(KUBECONFIG) --kubeconfig-user --insecure-cookies --address 127.0.0.1:8090

test: venv tools browser realnode-deps cluster-up ## the whole suite: unit, integration (real control plane), e2e (Prometheus, a real browser), the real node (root)
	hack/build-binaries.sh realnode
	$(PY) -m pytest

test-unit: venv ## unit tests only: pure, no cluster, no build, seconds (chart and promtool tests need `make tools`)
	$(PY) -m pytest -m "not integration and not tools"

test-integration: venv tools browser realnode-deps cluster-up ## integration tests only (e2e and the real node included)
	hack/build-binaries.sh realnode
	$(PY) -m pytest -m integration

test-real: venv ## real pods on kind (needs Docker or Podman; not run by .ci/run: no engine here)
	CG_CLUSTER_PROVIDER=kind hack/cluster-up.sh
	$(PY) -m pytest -o addopts="-ra --strict-markers" tests/real

test-realnode: venv realnode-deps cluster-up ## only the real-node tier: real processes on a real kubelet beside the KWOK nodes (root)
	hack/build-binaries.sh realnode
	$(PY) -m pytest tests/realnode

test-faults: venv cluster-up ## fault scenarios only (operator killed, API server down, hand edits); timings in .local/fault-timings.jsonl
	rm -f .local/fault-timings.jsonl
	$(PY) -m pytest -m faults
	@cat .local/fault-timings.jsonl

test-e2e: venv tools browser cluster-up ## e2e only: a real Prometheus (built by `make tools`) and a real browser (`make browser`)
	$(PY) -m pytest -m e2e

lint: venv ## ruff, mypy (strict) and the layer contracts
	$(VENV)/bin/ruff check operator tests hack bench
	$(VENV)/bin/ruff format --check operator tests hack bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

crds: venv ## generate crds/ from the API models, and the chart's copies
	$(PY) hack/generate_crds.py
	$(PY) hack/chart_sync_crds.py

chart: venv ## refresh the chart's copies (CRDs, alerts, dashboard) and its values reference
	$(PY) hack/chart_sync_crds.py
	$(PY) hack/chart_values_doc.py

chart-lint: tools ## helm lint the chart with the defaults and with every switch on
	helm lint charts/cg-operator --strict --kube-version 1.36.0
	helm lint charts/cg-operator --strict --kube-version 1.36.0 -f tests/data/chart/full-values.yaml

verify: venv ## fail when generated files (crds/, the chart's copies and values reference) are stale
	$(PY) hack/generate_crds.py --check
	$(PY) hack/chart_sync_crds.py --check
	$(PY) hack/chart_values_doc.py --check

bench: venv binaries ## the national-scale benchmark on its own cluster (bench/README.md); BENCH_ARGS=--quick for N=20
	CG_CLUSTER_NAME=bench hack/cluster-up.sh
	$(PY) bench/run.py --kubeconfig .local/kubeconfig-bench $(BENCH_ARGS)

clean: ## remove the venv and the local cluster state (the binary cache stays)
	-hack/cluster-down.sh
	rm -rf $(VENV) .local .pytest_cache .mypy_cache .ruff_cache
