"""The IAM mutation run: does a test notice when one statement of a function's policy is missing?

For every function of template.yaml, each statement of its `Policies` (an inline statement, or a SAM
policy template such as SQSSendMessagePolicy) is removed in turn; the mutated template is written to a
temporary file and the tests that run that function under the embedded stack's IAM enforcement
(sandbox/iam) run against it (INVOICE_BRIDGE_TEMPLATE). A failing run is a caught removal.

Goal: every statement a function uses is caught; a statement nothing uses is removed from the template.

    make iam-mutation                      # everything, two runs at a time
    .venv/bin/python scripts/iam_mutation.py --functions RenderFunction --jobs 1
    .venv/bin/python scripts/iam_mutation.py --list

Writes out/iam-mutation.json and prints a table: statements tried, removals caught, and the uncaught
ones with a reason. Not part of `make test` (it runs the selected tests once per statement).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sandbox.iam.mutation import Mutation, mutate, mutations, write_template  # noqa: E402
from sandbox.stack import TEMPLATE_VARIABLE  # noqa: E402
from sandbox.template import load_yaml  # noqa: E402

TEMPLATE = REPO / "template.yaml"
REPORT = REPO / "out" / "iam-mutation.json"

# Fast tests that run functions under the IAM enforcement: the acting-as checks of the roles'
# conditions first (seconds), then one office's story through every function of the stack.
ENFORCEMENT = "tests/integration/iam/test_iam_enforcement.py"
PIPELINE = "tests/integration/iam/test_pipeline_permissions.py"
DEFAULT_TESTS = [ENFORCEMENT, PIPELINE]
TESTS: dict[str, list[str]] = {}  # function → its own selection, where it differs from DEFAULT_TESTS

# Statements that no test catches, with the reason (function, label) → why. Empty is the goal.
KNOWN_UNCAUGHT: dict[tuple[str, str], str] = {}

REFUSAL = re.compile(r"is not authorized to perform: [\w:*]+ on resource: \S+")


@dataclass
class Outcome:
    mutation: Mutation
    caught: bool
    seconds: float
    failed_tests: list[str] = field(default_factory=list)
    refusal: str | None = None  # the first refusal the tests printed
    reason: str | None = None  # why an uncaught statement is not caught


def run_tests(tests: list[str], template: Path | None, log: Path) -> tuple[int, str]:
    env = dict(os.environ)
    env.pop(TEMPLATE_VARIABLE, None)
    if template is not None:
        env[TEMPLATE_VARIABLE] = str(template)
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider", *tests]
    with log.open("w", encoding="utf-8") as out:
        code = subprocess.call(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    return code, log.read_text(encoding="utf-8", errors="replace")


def try_mutation(template: dict[str, Any], mutation: Mutation, workdir: Path, number: int) -> Outcome:
    path = write_template(mutate(template, mutation, TEMPLATE.parent), workdir / f"template-{number:03d}.yaml")
    started = time.monotonic()
    code, output = run_tests(TESTS.get(mutation.function, DEFAULT_TESTS), path, workdir / f"run-{number:03d}.log")
    failed = sorted(set(re.findall(r"^(?:FAILED|ERROR) (\S+)", output, re.MULTILINE)))
    refusal = REFUSAL.search(output)
    outcome = Outcome(mutation, caught=code != 0, seconds=round(time.monotonic() - started, 1),
                      failed_tests=failed, refusal=refusal.group(0) if refusal else None)
    if not outcome.caught:
        outcome.reason = KNOWN_UNCAUGHT.get((mutation.function, mutation.label), "no test noticed: investigate")
    return outcome


def table(outcomes: list[Outcome]) -> str:
    rows = [f"{'function':<26} {'tried':>5} {'caught':>6}"]
    for function in sorted({o.mutation.function for o in outcomes}):
        mine = [o for o in outcomes if o.mutation.function == function]
        rows.append(f"{function:<26} {len(mine):>5} {sum(o.caught for o in mine):>6}")
    rows.append(f"{'total':<26} {len(outcomes):>5} {sum(o.caught for o in outcomes):>6}")
    uncaught = [o for o in outcomes if not o.caught]
    if uncaught:
        rows += ["", "uncaught:"] + [f"  {o.mutation.name}: {o.reason}" for o in uncaught]
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--functions", nargs="*", help="only these functions (logical ids)")
    parser.add_argument("--jobs", type=int, default=2, help="test runs at a time (default 2)")
    parser.add_argument("--list", action="store_true", help="list the statements and stop")
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args()

    template = load_yaml(TEMPLATE)
    chosen = [m for m in mutations(template) if not args.functions or m.function in args.functions]
    if args.list:
        print("\n".join(m.name for m in chosen))
        return 0
    with tempfile.TemporaryDirectory(prefix="iam-mutation-") as folder:
        workdir = Path(folder)
        tests = sorted({t for m in chosen for t in TESTS.get(m.function, DEFAULT_TESTS)})
        code, output = run_tests(tests, None, workdir / "baseline.log")
        if code != 0:
            print(output[-4000:])
            print("the unmutated template fails its tests: fix that first", file=sys.stderr)
            return 2
        print(f"baseline passes; trying {len(chosen)} statements, {args.jobs} at a time", flush=True)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [pool.submit(try_mutation, template, m, workdir, n) for n, m in enumerate(chosen)]
            outcomes = []
            for future in futures:
                outcome = future.result()
                outcomes.append(outcome)
                verdict = "caught" if outcome.caught else "UNCAUGHT"
                print(f"  {verdict:<8} {outcome.seconds:>6.1f}s  {outcome.mutation.name}", flush=True)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps({
        "template": str(TEMPLATE.relative_to(REPO)),
        "tried": len(outcomes),
        "caught": sum(o.caught for o in outcomes),
        "outcomes": [asdict(o) for o in outcomes],
    }, indent=2) + "\n", encoding="utf-8")
    print()
    print(table(outcomes))
    print(f"\nreport: {args.report.relative_to(REPO) if args.report.is_relative_to(REPO) else args.report}")
    return 0 if all(o.caught for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
