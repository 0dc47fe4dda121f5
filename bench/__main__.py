"""`python -m bench` (`make bench`): render, cold imports, polling budget, end to end, requests and cost,
the SharedLayer's size, and the recovery after an operator fault window.

Writes out/bench.json and out/bench.md (the Markdown tables for the README) and prints the tables.
Options: --invoices/--issuers (end to end size), --repeat (cold imports), --recovery-invoices and
--recovery-cap-minutes (0 invoices skips it), --quick (a small smoke run).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console

from . import cold_imports, cost, e2e, layer, machine, recovery, report
from . import polling as polling_bench
from . import render as render_benchmark
from .awscalls import AwsCallCounter


def _timed(sections: dict[str, float], name: str, console: Console, action: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    with console.status(f"bench: {name}…"):
        result = action()
    sections[name] = round(time.perf_counter() - start, 1)
    console.print(f"[green]✓[/] {name} ({sections[name]} s)")
    return result


def run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    invoices, issuers, repeat, render_repeat, integrations = (
        args.invoices, args.issuers, args.repeat, args.render_repeat, args.integrations
    )
    sections: dict[str, float] = {}
    # Render first: its font load and rules compile are then measured cold, and the end-to-end run's
    # render handler is a warm instance, as nearly all of a real Lambda's invocations are.
    render = _timed(sections, "render", console, lambda: render_benchmark.run(repeat=render_repeat))
    polling = _timed(sections, "polling_budget", console, lambda: asdict(polling_bench.run(integrations)))
    counter = AwsCallCounter()
    counter.install()  # before the stack: its clients are created on sessions made afterwards
    try:
        end_to_end = _timed(sections, "end_to_end", console,
                            lambda: e2e.run(invoices, issuers, counter, later_invoices=invoices))
    finally:
        counter.uninstall()
    later = end_to_end.get("later_sync")
    if later is not None:  # the everyday path: its own requests and cost per invoice
        later_counter = later.pop("counter")
        later["aws_requests_per_invoice"] = cost.requests_per_invoice(later, later_counter)
        later["cost_per_1000_invoices"] = cost.per_thousand(later, later_counter)
    cold = _timed(sections, "cold_imports", console, lambda: cold_imports.run(repeat))
    layer_size = _timed(sections, "layer_size", console, layer.shared_layer_size)
    recovered = None
    if args.recovery_invoices:
        recovered = _timed(sections, "recovery", console, lambda: recovery.run(
            args.recovery_invoices, issuers=2, cap_seconds=args.recovery_cap_minutes * 60
        ))
    return report.build(
        machine=machine.describe(),
        render=render,
        cold_imports=cold,
        polling=polling,
        end_to_end=end_to_end,
        requests_per_invoice=cost.requests_per_invoice(end_to_end, counter),
        cost=cost.per_thousand(end_to_end, counter),
        layer=layer_size,
        recovery=recovered,
        section_seconds=sections,
    )


QUICK_SIZES = {"invoices": 6, "issuers": 2, "repeat": 1, "render_repeat": 1, "integrations": 500,
               "recovery_invoices": 4, "recovery_cap_minutes": 3.0}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The options; `--quick` makes the sizes small, except those given on the command line
    (`--quick --recovery-invoices 0` skips the fault-window run)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--invoices", type=int, default=60)
    parser.add_argument("--issuers", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5, help="fresh interpreters per cold import")
    parser.add_argument("--render-repeat", type=int, default=7)
    parser.add_argument("--integrations", type=int, default=10_000)
    parser.add_argument("--recovery-invoices", type=int, default=30, help="0 skips the fault-window run")
    parser.add_argument("--recovery-cap-minutes", type=float, default=20.0,
                        help="end the fault-window run after this long without every invoice terminal")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--out", default="out/bench.json")
    parser.add_argument("--update-readme", action="store_true", help="rewrite README.md's Benchmarks section")
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(**QUICK_SIZES)  # the defaults only: what the command line gives stays
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(file=sys.__stdout__, width=140)
    started = time.perf_counter()
    result = run(args, console)
    result["section_seconds"]["total"] = round(time.perf_counter() - started, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(report.markdown(result), encoding="utf-8")
    console.print(report.rich_table(result))
    if args.update_readme:
        readme = Path(__file__).resolve().parent.parent / "README.md"
        section = report.readme_section(result)
        readme.write_text(
            report.replace_readme_section(readme.read_text(encoding="utf-8"), section), encoding="utf-8"
        )
    console.print(f"wrote {out} and {out.with_suffix('.md')} in {result['section_seconds']['total']} s")
    dispatched_all = result["end_to_end"]["dispatched"] == result["end_to_end"]["invoices"]
    return 0 if dispatched_all else 1


if __name__ == "__main__":
    sys.exit(main())
