# invoice-bridge: every target installs what it needs first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
SAM := .tools/sam/bin/sam
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= eu-north-1

.PHONY: setup venv system-deps sam-tools run test serve bench bench-recovery soak iam-mutation rules reference-invoices lint build deploy clean

## What installs what (each target installs only what it needs, and only when missing):
##   venv        .venv from uv.lock (runtime + local stack + test libraries)       make run/serve/soak/lint
##   system-deps Debian packages: chromium (browser tests), poppler-utils (PDFs as images),
##               fonts-dejavu-core                                                 make test
##   sam-tools   the AWS SAM CLI in its own venv, .tools/sam (it pins its own boto3) make test/build/bench
setup: venv system-deps sam-tools

venv: $(VENV)/.installed

system-deps:
	@bash scripts/setup-system.sh

sam-tools: .tools/sam/.installed

$(VENV)/.installed: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	uv sync --frozen --extra dev --python $(PYTHON)
	@touch $@

.tools/sam/.installed: scripts/setup-sam-tools.sh
	@bash scripts/setup-sam-tools.sh
	@touch $@

## run: the demo end to end on the embedded stack
run: venv
	$(PY) -m sandbox.demo

## test: every test
test: setup
	$(PY) -m pytest -n 2 --dist loadfile

## serve: the embedded stack in the foreground (writes .local/stack.json)
serve: venv
	$(PY) -m sandbox.serve

## bench: benchmarks → out/bench.json
bench: venv sam-tools
	$(PY) -m bench

## bench-recovery: only the recovery after a 30 % operator fault window (goal ≤ 7 min) → out/bench-recovery.json
bench-recovery: venv
	$(PY) -m bench.recovery

## soak: the whole pipeline under load and every fault at once → out/soak.json
soak: venv
	$(PY) -m sandbox.soak

## iam-mutation: remove each IAM statement in turn; the IAM tests must notice → out/iam-mutation.json
iam-mutation: venv
	$(PY) scripts/iam_mutation.py

## rules: fetch the e-invoice validation artefacts again and check them against their SHA-256 pins
rules: venv
	$(PY) scripts/fetch-rules.py

## reference-invoices: one PDF page image per VAT case under docs/invoices (pdftoppm: poppler-utils)
reference-invoices: venv system-deps
	$(PY) -m sandbox.reference_invoices

## lint: ruff, the structure lint (function length, domain → adapter imports, explained type: ignores),
## mypy strict ([tool.mypy]), cfn-lint. `make test` runs the structure lint and mypy too (tests/unit/lint).
lint: venv
	$(VENV)/bin/ruff check layers cli sandbox functions tests bench scripts
	$(PY) scripts/check_structure.py
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint template.yaml

## build / deploy: SAM (deploy needs AWS credentials; see infra/README.md). `sam build` needs the
## Lambda runtime's Python (3.12) on PATH: scripts/python312.sh finds one, or installs it with uv.
## The artefacts are then compiled to bytecode (scripts/compile_bytecode.py): Lambda's /opt and /var/task
## are read-only, so without it every cold start compiles what it imports.
build: sam-tools
	PATH="$$(bash scripts/python312.sh):$$PATH" $(SAM) build --template template.yaml
	"$$(bash scripts/python312.sh)/python3.12" scripts/compile_bytecode.py .aws-sam/build

deploy: build
	$(SAM) deploy --config-file infra/samconfig.toml

clean:
	rm -rf .aws-sam out .local
