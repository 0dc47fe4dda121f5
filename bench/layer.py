"""The layers as Lambda sees them: a local install of their requirements for this machine's CPU (what the
cold imports run on), and the SharedLayer's size (from `sam build` where the SAM tools are installed).

Lambda runs python3.12 on arm64 with the function's folder, then /opt/python (the layers) on sys.path.
The bench cannot run arm64 binaries, so it installs the same pinned requirements for this machine into
`.local/bench/layers/<python>/<layer>` (reused while the requirements are unchanged), with Python 3.12 if
one is found (else the venv's Python; the report says which).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
LAYERS = REPO_ROOT / "layers"
WORK = REPO_ROOT / ".local" / "bench"
SAM = REPO_ROOT / ".tools" / "sam" / "bin" / "sam"
LAMBDA_PYTHON = "3.12"


@dataclass(frozen=True)
class Runtime:
    """The interpreter the cold imports run on and the layer folders it finds on sys.path."""

    python: str
    version: str
    shared_site: Path  # the SharedLayer's requirements
    validation_site: Path  # the ValidationLayer's (RenderFunction only)
    package_root: Path  # where invoice_bridge lives (the SharedLayer's own content)


def _version_of(python: str) -> str | None:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True, text=True, timeout=30, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def find_python() -> str | None:
    """The Lambda runtime's Python, as `make build` finds it (scripts/python312.sh: PATH, pyenv, uv, or
    installed with uv); None if there is none to be had."""
    try:
        done = subprocess.run(
            ["bash", str(REPO_ROOT / "scripts" / "python312.sh")],
            capture_output=True, text=True, timeout=600, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    python = str(Path(done.stdout.strip()) / f"python{LAMBDA_PYTHON}")
    found = _version_of(python)
    return python if found and found.startswith(LAMBDA_PYTHON + ".") else None


def _install(python: str, requirements: Path, target: Path) -> None:
    """pip-install `requirements` into `target` for `python` (uv if present), once per requirements text."""
    stamp = target / ".requirements-sha256"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text() == digest:
        return
    shutil.rmtree(target, ignore_errors=True)
    options = ["install", "--quiet", "--target", str(target), "-r", str(requirements)]
    uv = shutil.which("uv")
    if uv:
        command = [uv, "pip", *options, "--python", python]
    elif importlib.util.find_spec("uv") is not None:
        command = [sys.executable, "-m", "uv", "pip", *options, "--python", python]
    else:
        command = [python, "-m", "pip", *options]
    subprocess.run(command, check=True, cwd=REPO_ROOT)
    stamp.write_text(digest)


def runtime() -> Runtime:
    python = find_python() or sys.executable
    version = _version_of(python) or sys.version.split()[0]
    root = WORK / "layers" / f"python{'.'.join(version.split('.')[:2])}"
    sites = {}
    for layer in ("shared", "validation"):
        sites[layer] = root / layer
        _install(python, LAYERS / layer / "requirements.txt", sites[layer])
    return Runtime(python, version, sites["shared"], sites["validation"], LAYERS / "shared")


def _tree_bytes(root: Path, skip_pycache: bool = False) -> int:
    return sum(
        p.stat().st_size
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink() and not (skip_pycache and "__pycache__" in p.parts)
    )


def _zipped_bytes(root: Path) -> int:
    """Size of the layer's zip (deflated, as `sam deploy` uploads it)."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "layer.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in sorted(root.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    bundle.write(path, path.relative_to(root))
        return archive.stat().st_size


def _layer_sources_digest() -> str:
    """What the SharedLayer is built from: its folder's files (bytecode aside) and the template."""
    digest = hashlib.sha256((REPO_ROOT / "template.yaml").read_bytes())
    for path in sorted((LAYERS / "shared").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(LAYERS)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _sam_build_shared_layer(python312: str) -> Path:
    """The SharedLayer as `sam build` makes it; built again only when its sources changed."""
    build = WORK / "sam-build"
    stamp = build / ".shared-layer-sources-sha256"
    digest = _layer_sources_digest()
    if stamp.is_file() and stamp.read_text() == digest and (build / "SharedLayer").is_dir():
        return build / "SharedLayer"
    env = {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "eu-north-1"),
        "PATH": f"{Path(python312).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("AWS_ENDPOINT_URL", None)
    subprocess.run(
        [str(SAM), "build", "SharedLayer", "--template-file", str(REPO_ROOT / "template.yaml"),
         "--build-dir", str(build), "--cache-dir", str(WORK / "sam-cache")],
        cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=900,
    )
    stamp.write_text(digest)
    return build / "SharedLayer"


def _megabytes(size: int) -> float:
    return round(size / 2**20, 1)


def shared_layer_size(runtime_: Runtime | None = None) -> dict[str, Any]:
    """SharedLayer size, unzipped and zipped: the `sam build` artefact (python3.12, arm64) if the SAM tools
    and a Python 3.12 are here, else the installed size of its requirements closure plus invoice_bridge."""
    python312 = find_python()
    if SAM.exists() and python312:
        try:
            built = _sam_build_shared_layer(python312)
        except subprocess.SubprocessError as exc:
            failure = f"sam build failed ({type(exc).__name__}); "
        else:
            return {
                "source": "sam build SharedLayer (python3.12, arm64)",
                "unzipped_mb": _megabytes(_tree_bytes(built)),
                "zipped_mb": _megabytes(_zipped_bytes(built)),
                "package_mb": _megabytes(_tree_bytes(built / "python" / "invoice_bridge")),
            }
    else:
        failure = "SAM tools or Python 3.12 missing; "
    runtime_ = runtime_ or runtime()
    package = _tree_bytes(runtime_.package_root / "invoice_bridge", skip_pycache=True)
    closure = _tree_bytes(runtime_.shared_site, skip_pycache=True) + package
    return {
        "source": f"{failure}installed requirements closure for this machine (Python {runtime_.version}) "
        "plus invoice_bridge",
        "unzipped_mb": _megabytes(closure),
        "zipped_mb": None,
        "package_mb": _megabytes(package),
    }
