#!/usr/bin/env bash
# Creates the separate virtual environment for the AWS SAM CLI (.tools/sam).
# aws-sam-cli pins its own boto3, so it must not share the project's .venv.
# Idempotent: does nothing when the pinned version is already installed.
set -euo pipefail

SAM_CLI_VERSION="1.170.0"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ROOT}/.tools/sam"
PYTHON="${PYTHON:-python3.11}"

installed=""
if [[ -x "${VENV}/bin/sam" ]]; then
    installed="$("${VENV}/bin/python" -c 'from importlib.metadata import version; print(version("aws-sam-cli"))' 2>/dev/null || true)"
fi
if [[ "${installed}" == "${SAM_CLI_VERSION}" ]]; then
    exit 0
fi

echo "Installing aws-sam-cli ${SAM_CLI_VERSION} into ${VENV}" >&2
mkdir -p "${ROOT}/.tools"
"${PYTHON}" -m venv "${VENV}"
"${VENV}/bin/python" -m pip install --quiet --disable-pip-version-check "aws-sam-cli==${SAM_CLI_VERSION}" 2>&1 \
    | grep -v "^WARNING: Location 'file://" >&2 || true
"${VENV}/bin/sam" --version >&2
