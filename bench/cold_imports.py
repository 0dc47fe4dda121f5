"""Cold import of every Lambda handler module, as Lambda runs it: a fresh interpreter per import.

The interpreter is Python 3.12 when one is found (bench/layer.py), started with `-I -S` so that nothing of
this machine's site-packages is seen; sys.path is the function's folder, then the layers (the pinned
requirements installed for this CPU, invoice_bridge; the ValidationLayer for RenderFunction only), and the
environment is Lambda's at init (LAMBDA_TASK_ROOT and friends, so Powertools' Tracer and the X-Ray SDK
take their Lambda paths, with tracing on as the template's `Tracing: Active` has it).

Two modes, both against the same baseline, `import boto3` from the layer:
- as shipped: `make build` compiles the layers and functions to bytecode after `sam build`
  (scripts/compile_bytecode.py), so the bench runs with compiled modules (a pycache prefix warmed by a
  first run; bytecode for everything on sys.path, the baseline's boto3 included, as in the built layer);
- without bytecode, for comparison: what `sam build` alone ships (no __pycache__, /opt read-only, so a
  cold start compiles every module it imports); the code copied without __pycache__, run with -B.
Times are CPU (user + system) of the child: on a shared machine the wall clock measures the neighbours,
and Lambda's init is CPU-bound. Wall medians are kept in the JSON. The split by module comes from one
more run with `-X importtime` (self time per module, summed per package).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.stack import LOCAL_OVERRIDES, LOCAL_PARAMETERS
from sandbox.template import NO_VALUE, Template, load_template, resolve

from .layer import REPO_ROOT, WORK, Runtime, runtime

FUNCTIONS = REPO_ROOT / "functions"
BASELINE = "import boto3"
BASELINE_PACKAGES = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"}
CONSENT = "ConsentFunction"
VALIDATION_USERS = {"RenderFunction"}  # the functions the template gives the ValidationLayer
IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)")
TOP_MODULES = 6


@dataclass(frozen=True)
class Subject:
    name: str  # logical id, or "baseline"
    folder: str  # functions/<folder>, "" for the baseline
    paths: tuple[Path, ...]
    code: str
    environment: dict[str, str]


def handler_dirs() -> list[Path]:
    return sorted(p.parent for p in FUNCTIONS.glob("*/app.py"))


def _fresh_copy(source: Path, target: Path) -> Path:
    """`source` without bytecode, as `sam build` leaves it (no __pycache__, nothing compiled)."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


class _MadeUpRefs(dict[str, Any]):
    """Ref values as a deployed stack would give them: the parameters' (local) values, and for a resource
    a name or URL of its form. The cold start reads every setting (wiring.check_settings), so each must
    have a valid value; which value does not change the import's cost."""

    def __missing__(self, logical_id: str) -> str:
        return f"https://sqs.eu-north-1.amazonaws.com/123456789012/{logical_id}" if "Queue" in logical_id \
            else logical_id

    def __contains__(self, key: object) -> bool:
        return True


class _MadeUpAttrs(dict[tuple[str, str], Any]):
    def __missing__(self, key: tuple[str, str]) -> str:
        return f"arn:aws:bench:eu-north-1:123456789012:{key[0]}/{key[1]}"

    def __contains__(self, key: object) -> bool:
        return True


def _deployed_variables(template: Template, function: Any) -> dict[str, str]:
    refs = _MadeUpRefs(
        {name: spec["Default"] for name, spec in template.parameters.items() if "Default" in spec}
        | LOCAL_PARAMETERS | LOCAL_OVERRIDES | {"PublicBaseUrl": "https://consent.example.com"}
        | {"AWS::Region": "eu-north-1", "AWS::AccountId": "123456789012"}
    )
    resolved = {name: resolve(raw, refs, _MadeUpAttrs(), template.conditions)
                for name, raw in function.environment.items()}
    return {name: str(value) for name, value in resolved.items() if value is not NO_VALUE}


def _lambda_environment(template: Template, function: Any, task_root: Path) -> dict[str, str]:
    return {
        **_deployed_variables(template, function),
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": "eu-north-1",
        "AWS_DEFAULT_REGION": "eu-north-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": function.logical_id,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "LAMBDA_TASK_ROOT": str(task_root),
        "_HANDLER": function.handler,
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }


def subjects(rt: Runtime) -> list[Subject]:
    """The baseline and every function of the template, each with its Lambda sys.path and environment."""
    shipped = WORK / "shipped"
    package = _fresh_copy(rt.package_root / "invoice_bridge", shipped / "layer" / "invoice_bridge").parent
    template = load_template(REPO_ROOT / "template.yaml")
    found = [Subject("baseline", "", (rt.shared_site,), BASELINE, {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})]
    for function in sorted(template.functions.values(), key=lambda f: f.logical_id):
        source = (REPO_ROOT / function.code_uri).resolve()
        task_root = _fresh_copy(source, shipped / "functions" / source.name)
        layers = [package, rt.shared_site] + ([rt.validation_site] if function.logical_id in VALIDATION_USERS else [])
        module = function.handler.rpartition(".")[0]
        found.append(
            Subject(function.logical_id, source.name, (task_root, *layers), f"import {module}",
                    _lambda_environment(template, function, task_root))
        )
    return found


def _command(rt: Runtime, subject: Subject, flags: list[str]) -> list[str]:
    paths = [str(p) for p in subject.paths]
    return [rt.python, "-I", "-S", *flags, "-c", f"import sys; sys.path[:0] = {paths!r}; {subject.code}"]


def _run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(CPU ms, wall ms) of one fresh interpreter."""
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = (time.perf_counter() - start) * 1000
    errors = child.stderr.read().decode(errors="replace") if child.stderr else ""
    if child.stderr:
        child.stderr.close()
    if status != 0:
        raise RuntimeError(f"cold import failed: {command[-1]}\n{errors[-2000:]}")
    return (usage.ru_utime + usage.ru_stime) * 1000, wall


def _package_of(module: str) -> str:
    parts = module.split(".")
    deep = {"invoice_bridge": 2, "aws_lambda_powertools": 2}.get(parts[0], 1)
    return ".".join(parts[:deep])


def import_split(rt: Runtime, subject: Subject, flags: list[str], top: int = TOP_MODULES) -> dict[str, Any]:
    """The split of one cold import run with `flags` (those of the mode shipped)."""
    done = subprocess.run(
        _command(rt, subject, [*flags, "-X", "importtime"]), env=subject.environment, cwd=REPO_ROOT,
        capture_output=True, text=True, check=True,
    )
    return split_importtime(done.stderr, top)


def split_importtime(report: str, top: int = TOP_MODULES) -> dict[str, Any]:
    """Self import time per package (ms) from `-X importtime` output: the `top` heaviest packages, the
    boto3 baseline's packages as one figure, and the rest; the parts add up to the total."""
    per_package: dict[str, float] = defaultdict(float)
    for line in report.splitlines():
        match = IMPORTTIME.match(line)
        if match:
            package = _package_of(match[3])
            key = "boto3 + botocore (baseline)" if package in BASELINE_PACKAGES else package
            per_package[key] += int(match[1]) / 1000
    total = sum(per_package.values())
    ranked = sorted(per_package.items(), key=lambda item: -item[1])
    heaviest = [(name, ms) for name, ms in ranked if not name.startswith("boto3 + ")][:top]
    baseline = per_package.get("boto3 + botocore (baseline)", 0.0)
    rest = total - baseline - sum(ms for _, ms in heaviest)
    return {
        "total_ms": round(total, 1),
        "baseline_packages_ms": round(baseline, 1),
        "heaviest": {name: round(ms, 1) for name, ms in heaviest},
        "other_ms": round(rest, 1),
    }


def _medians(rt: Runtime, found: list[Subject], repeat: int, flags: list[str]) -> dict[str, tuple[float, float]]:
    """Round-robin (every subject once per round) so a busy machine slows all alike; (CPU, wall) medians."""
    cpu: dict[str, list[float]] = {s.name: [] for s in found}
    wall: dict[str, list[float]] = {s.name: [] for s in found}
    for _ in range(repeat):
        for subject in found:
            c, w = _run(_command(rt, subject, flags), subject.environment)
            cpu[subject.name].append(c)
            wall[subject.name].append(w)
    return {name: (statistics.median(cpu[name]), statistics.median(wall[name])) for name in cpu}


def run(repeat: int = 5) -> dict[str, Any]:
    rt = runtime()
    found = subjects(rt)
    prefix = WORK / "pycache"
    shutil.rmtree(prefix, ignore_errors=True)
    bytecode_flags = ["-X", f"pycache_prefix={prefix}"]
    for subject in found:  # compile once: later runs read the bytecode
        _run(_command(rt, subject, bytecode_flags), subject.environment)
    shipped = _medians(rt, found, repeat, bytecode_flags)
    uncompiled = _medians(rt, found, max(1, repeat // 2), ["-B"])  # a comparison: fewer rounds
    base_cpu, base_wall = shipped["baseline"]
    base_uncompiled = uncompiled["baseline"][0]
    functions: dict[str, Any] = {}
    for subject in found[1:]:
        cpu, wall = shipped[subject.name]
        functions[subject.name] = {
            "folder": subject.folder,
            "cpu_ms": round(cpu, 1),
            "wall_ms": round(wall, 1),
            "ratio": round(cpu / base_cpu, 2),
            "without_bytecode_cpu_ms": round(uncompiled[subject.name][0], 1),
            "without_bytecode_ratio": round(uncompiled[subject.name][0] / base_uncompiled, 2),
            "split": import_split(rt, subject, bytecode_flags),
        }
    worst = max(functions, key=lambda name: functions[name]["ratio"])
    return {
        "repeat": repeat,
        "python": rt.version,
        "runtime": "Lambda layout: function folder + layers, Lambda's init environment, tracing on, -I -S",
        "measure": "CPU time of the child (user + system), median",
        "baseline": BASELINE,
        "baseline_cpu_ms": round(base_cpu, 1),
        "baseline_wall_ms": round(base_wall, 1),
        "baseline_without_bytecode_cpu_ms": round(base_uncompiled, 1),
        "baseline_split": import_split(rt, found[0], bytecode_flags),
        "functions": functions,
        "worst": {"function": worst, "ratio": functions[worst]["ratio"]},
        "consent": {"function": CONSENT, "ratio": functions.get(CONSENT, {}).get("ratio")},
    }
