#!/usr/bin/env bash
# Prints the bin/ directory of a CPython 3.12, the Lambda runtime's version, which `sam build` needs on
# PATH to build the layers. Looks in the usual places first (PATH, pyenv, uv's managed interpreters) and
# installs one with `uv python install 3.12` only when none is found. Nothing machine-specific here.
set -euo pipefail

is_312() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; }
bin_of() { dirname "$("$1" -c 'import sys; print(sys.executable)')"; }

candidates=()
command -v python3.12 >/dev/null 2>&1 && candidates+=("$(command -v python3.12)")
if command -v pyenv >/dev/null 2>&1; then
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.12(\.|$)' | sort -rV); do
        candidates+=("$(pyenv root)/versions/${version}/bin/python3.12")
    done
fi
if command -v uv >/dev/null 2>&1; then
    found=$(uv python find --no-project 3.12 2>/dev/null || true)
    [ -n "${found}" ] && candidates+=("${found}")
fi

for candidate in "${candidates[@]}"; do
    if [ -x "${candidate}" ] && is_312 "${candidate}"; then
        bin_of "${candidate}"
        exit 0
    fi
done

echo "no Python 3.12 found; installing one with uv" >&2
command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv >&2
uv python install 3.12 >&2
bin_of "$(uv python find --no-project 3.12)"
