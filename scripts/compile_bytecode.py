"""Compile the `sam build` artefacts to bytecode, as they will run on Lambda (`make build` calls it).

/opt and /var/task are read-only on Lambda, so a cold start without bytecode compiles every module it
imports, every time (make bench: about half of each function's import time). Compiled here with the
Lambda runtime's Python (3.12; bytecode is the same on arm64) and `unchecked-hash`: the files never
change after the build, so the interpreter need not stat or hash the sources at import. File names in
the bytecode are the paths Lambda runs them from (/opt/python for a layer, /var/task for a function), so
tracebacks still show the source lines.

Usage: python3.12 scripts/compile_bytecode.py [BUILD_DIR]   (default .aws-sam/build)
"""

from __future__ import annotations

import compileall
import py_compile
import sys
from pathlib import Path

LAYER_ROOT = "/opt"  # a layer's python/ is /opt/python
FUNCTION_ROOT = "/var/task"


def compile_artefact(artefact: Path, lambda_root: str) -> bool:
    """Compile every module under `artefact`; True when all compiled (a package's syntax-error test file
    is reported and left as source: it is never imported)."""
    return compileall.compile_dir(
        artefact, ddir=lambda_root, quiet=1, workers=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )


def main(argv: list[str]) -> int:
    if sys.version_info[:2] != (3, 12):
        print(f"compile_bytecode: needs Python 3.12 (Lambda's runtime), not {sys.version.split()[0]}", file=sys.stderr)
        return 2
    build = Path(argv[0] if argv else ".aws-sam/build")
    artefacts = sorted(p for p in build.iterdir() if p.is_dir())
    if not artefacts:
        print(f"compile_bytecode: nothing built in {build}", file=sys.stderr)
        return 2
    for artefact in artefacts:
        layer = (artefact / "python").is_dir()
        compile_artefact(artefact, LAYER_ROOT if layer else FUNCTION_ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
