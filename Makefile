# invoice-bridge: every target installs what it needs first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
SAM := .tools/sam/bin/sam
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= eu-north-1

.PHONY: setup system-deps run test serve bench soak iam-mutation rules lint build deploy clean

## setup: project venv from the lock file, system packages, SAM tools venv
setup: system-deps $(VENV)/.installed .tools/sam/.installed

system-deps:
	@bash scripts/setup-system.sh

$(VENV)/.installed: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	uv sync --frozen --extra dev --python $(PYTHON)
	$(PY) -m playwright --version >/dev/null
	@touch $@

.tools/sam/.installed: scripts/setup-sam-tools.sh
	@bash scripts/setup-sam-tools.sh
	@touch $@

## run: the demo end to end on the embedded stack
run: setup
	$(PY) -m sandbox.demo

## test: every test
test: setup
	$(PY) -m pytest -n 2 --dist loadfile

## serve: the embedded stack in the foreground (writes .local/stack.json)
serve: setup
	$(PY) -m sandbox.serve

## bench: benchmarks → out/bench.json
bench: setup
	$(PY) -m bench

## soak: the whole pipeline under load and every fault at once → out/soak.json
soak: setup
	$(PY) -m sandbox.soak

## iam-mutation: remove each IAM statement in turn; the IAM tests must notice → out/iam-mutation.json
iam-mutation: setup
	$(PY) scripts/iam_mutation.py

## rules: fetch the e-invoice validation artefacts again and check them against their SHA-256 pins
rules: setup
	$(PY) scripts/fetch-rules.py

lint: setup
	$(VENV)/bin/ruff check layers sandbox functions tests bench
	$(VENV)/bin/cfn-lint template.yaml

## build / deploy: SAM (deploy needs AWS credentials; see infra/README.md)
build: setup
	PATH=/root/.pyenv/versions/3.12.1/bin:$$PATH $(SAM) build --template template.yaml

deploy: build
	$(SAM) deploy --config-file infra/samconfig.toml

clean:
	rm -rf .aws-sam out .local
