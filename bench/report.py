"""The one benchmark report: every figure with its baseline and ratio, issue 15's goals table, the AWS
requests by function and operation, and each function's cold import split by its heaviest modules;
as JSON, rich tables and Markdown."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Group
from rich.table import Table

STOCKHOLM = ZoneInfo("Europe/Stockholm")
REQUIRED_KEYS = (
    "generated_at",
    "machine",
    "render",
    "cold_imports",
    "polling_budget",
    "end_to_end",
    "aws_requests_per_invoice",
    "cost_per_1000_invoices",
    "layer",
    "recovery",
    "section_seconds",
)
# Issue 15's goals (and issue 12's recovery goal), each with the figure it applies to.
GOAL_REQUESTS = 12
GOAL_DYNAMODB = 6
GOAL_PLATFORM_USD = Decimal("0.02")
GOAL_COLD_WORST, GOAL_COLD_CONSENT = 1.5, 1.3
GOAL_PIPELINE = 1.25
Row = tuple[str, str, str, str]


def polling_figures(polling: dict[str, Any]) -> dict[str, Any]:
    """Add the baseline of the polling simulation: the time its requests take at a steady budget pace
    (the busiest endpoint's requests ÷ the limit per minute). Fixed minute windows let a run end a
    little sooner than that pace (a burst in the last window), so a ratio just under 1 is full use."""
    busiest = max(polling["requests"].values())
    ideal_minutes = busiest / polling["limit_per_minute"]
    return {
        **polling,
        "ideal_minutes": round(ideal_minutes, 2),
        "ratio": round(polling["minutes_until_all_fresh"] / ideal_minutes, 3) if ideal_minutes else None,
    }


def build(
    *,
    machine: dict[str, Any],
    render: dict[str, Any],
    cold_imports: dict[str, Any],
    polling: dict[str, Any],
    end_to_end: dict[str, Any],
    requests_per_invoice: dict[str, Any],
    cost: dict[str, Any],
    layer: dict[str, Any],
    recovery: dict[str, Any] | None,
    section_seconds: dict[str, float],
    now: datetime | None = None,
) -> dict[str, Any]:
    generated = (now or datetime.now(STOCKHOLM)).astimezone(STOCKHOLM)
    built: dict[str, Any] = {
        "generated_at": generated.isoformat(timespec="seconds"),
        "machine": machine,
        "render": {
            **render,
            "baseline": "reportlab rendering the same document with the same font, same run",
        },
        "cold_imports": cold_imports,
        "polling_budget": polling_figures(polling),
        "end_to_end": end_to_end,
        "aws_requests_per_invoice": requests_per_invoice,
        "cost_per_1000_invoices": cost,
        "layer": layer,
        "recovery": recovery,
        "section_seconds": section_seconds,
    }
    built["goals"] = [dict(zip(("figure", "measured", "goal", "met"), row, strict=True)) for row in goal_rows(built)]
    return built


# --- issue 15's table ---------------------------------------------------------------------------


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "no")


def pipeline_time_ratio(e2e: dict[str, Any]) -> float | None:
    """Pipeline time per invoice ÷ the sync step's time per invoice (issue 15's 'vs the sync step alone')."""
    rate, sync_rate = e2e.get("invoices_per_second"), e2e.get("sync_only_invoices_per_second")
    return round(sync_rate / rate, 2) if rate and sync_rate else None


def _cold_row(cold: dict[str, Any]) -> Row:
    worst, consent = cold["worst"], cold["consent"]
    measured = f"{worst['ratio']}× ({worst['function']}); consent {consent['ratio']}×"
    met = worst["ratio"] <= GOAL_COLD_WORST and (consent["ratio"] or 0) <= GOAL_COLD_CONSENT
    return (
        "cold import, worst function, vs `import boto3`",
        measured,
        f"≤ {GOAL_COLD_WORST}×, consent ≤ {GOAL_COLD_CONSENT}×",
        _met(met),
    )


def _recovery_row(recovery: dict[str, Any] | None) -> Row:
    label = "all invoices terminal after a 30 % operator fault window ends"
    if not recovery:
        return (label, "not run", "≤ 7 min", "—")
    seconds = recovery["seconds_until_all_terminal"]
    if seconds is None:
        measured = (
            f"> {recovery['cap_seconds'] / 60:.0f} min (cap; {recovery['still_open_at_cap']} of "
            f"{recovery['released']} still open)"
        )
    else:
        measured = f"{seconds / 60:.1f} min ({recovery['released']} invoices)"
    return (label, measured, f"≤ {recovery['goal_seconds'] / 60:.0f} min", _met(seconds is not None and seconds <= recovery["goal_seconds"]))


def _path_rows(per_invoice: dict[str, Any], cost: dict[str, Any], e2e: dict[str, Any], which: str) -> list[Row]:
    """The lean-path figures of one run: requests, DynamoDB requests, cost per invoice, pipeline time."""
    dynamodb = per_invoice["dynamodb"]
    split = ", ".join(f"{n} {op}" for op, n in dynamodb["by_operation"].items())
    platform = Decimal(cost["platform_usd_per_1000_invoices"])
    pipeline = pipeline_time_ratio(e2e)
    return [
        (f"AWS requests per invoice, all functions{which}", f"{per_invoice['total']}", f"≤ {GOAL_REQUESTS}",
         _met(per_invoice["total"] <= GOAL_REQUESTS)),
        (f"DynamoDB requests per invoice{which}", f"{dynamodb['total']} ({split})", f"≤ {GOAL_DYNAMODB}",
         _met(dynamodb["total"] <= GOAL_DYNAMODB)),
        (f"platform cost per 1,000 invoices, without SES and operator fees{which}", f"${platform}",
         f"≤ ${GOAL_PLATFORM_USD}", _met(platform <= GOAL_PLATFORM_USD)),
        (f"end-to-end pipeline vs the sync step alone (time per invoice){which}", f"{pipeline}×",
         f"≤ {GOAL_PIPELINE}×", _met(pipeline is not None and pipeline <= GOAL_PIPELINE)),
    ]


LATER = "; a later sync (no review hold)"


def goal_rows(report: dict[str, Any]) -> list[Row]:
    """(figure, measured, goal, met) of every figure with a goal, all from this run: the lean-path figures
    of the first sync (held for the office's review, then released) and, when run, of a later sync."""
    e2e = report["end_to_end"]
    first = _path_rows(report["aws_requests_per_invoice"], report["cost_per_1000_invoices"], e2e, "")
    later = e2e.get("later_sync")
    if later:
        first += _path_rows(later["aws_requests_per_invoice"], later["cost_per_1000_invoices"], later, LATER)
    layer = report["layer"]
    zipped = f", {layer['zipped_mb']} MB zipped" if layer.get("zipped_mb") is not None else ""
    return [
        *first,
        _cold_row(report["cold_imports"]),
        _recovery_row(report.get("recovery")),
        ("SharedLayer size", f"{layer['unzipped_mb']} MB unzipped{zipped}", "— (Lambda: 250 MB unzipped, all layers)",
         "—"),
    ]


# --- every figure with its baseline -------------------------------------------------------------


def _render_rows(render: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for pages in ("1_page", "10_page"):
        r = render[pages]
        label = pages.replace("_", " ").replace("10 page", "10 pages")
        out.append((f"render {label} PDF (fpdf2)", f"{r['fpdf2_ms']} ms", f"reportlab {r['reportlab_ms']} ms",
                    f"{r['ratio']}×"))
        out.append((
            f"validate {label} e-invoice (UBL 2.1 schema + EN 16931 + Peppol rules)",
            f"{r['validation_ms']} ms",
            f"reportlab {r['reportlab_ms']} ms",
            f"{round(r['validation_ms'] / r['reportlab_ms'], 2)}×",
        ))
    return out


def rows(report: dict[str, Any]) -> list[Row]:
    """(figure, measured, baseline, ratio) for the table; every speed figure has a baseline."""
    out = _render_rows(report["render"])
    cold = report["cold_imports"]
    for name, figure in cold["functions"].items():
        out.append((
            f"cold import {name} (functions/{figure['folder']}), as shipped",
            f"{figure['cpu_ms']} ms",
            f"import boto3 {cold['baseline_cpu_ms']} ms",
            f"{figure['ratio']}×",
        ))
    polling = report["polling_budget"]
    share = polling["budget_share_used"].get("/v2/customerinvoices", max(polling["budget_share_used"].values()))
    out.append((
        f"poll {polling['integrations']:,} integrations until all fresh",
        f"{polling['minutes_until_all_fresh']} min, {share:.1%} of budget",
        f"steady {polling['limit_per_minute']}/min pace {polling['ideal_minutes']} min",
        f"{polling['ratio']}×",
    ))
    e2e = report["end_to_end"]
    out.append((
        f"end to end {e2e['invoices']} invoices / {e2e['issuers']} issuers",
        f"{e2e['invoices_per_second']} inv/s",
        f"sync only {e2e['sync_only_invoices_per_second']} inv/s",
        f"{e2e['ratio']}×",
    ))
    if "pipeline_cpu_seconds" in e2e:  # reports from before the figure have none
        out.append((
            "end to end: the embedded stack's CPU time (one process)",
            f"{e2e['pipeline_cpu_seconds']} s",
            f"pipeline wall time {e2e['pipeline_seconds']} s",
            f"{e2e['cpu_busy_share']}×",
        ))
    per_invoice = report["aws_requests_per_invoice"]
    for service, count in sorted(per_invoice["by_service"].items()):
        out.append((f"AWS requests per invoice: {service}", f"{count}", "", ""))
    out.append(("AWS requests per invoice: sqs (event-source mapping, est.)",
                f"{per_invoice['event_source_mapping_sqs']}", "", ""))
    out.append(write_units_row(per_invoice, ""))
    later = e2e.get("later_sync")
    if later:
        out.append(write_units_row(later["aws_requests_per_invoice"], LATER))
    cost = report["cost_per_1000_invoices"]
    for service, usd in cost["usd_per_1000_invoices"].items():
        out.append((f"cost per 1,000 invoices: {service}", f"${usd}", "", ""))
    out.append((
        "cost per 1,000 invoices: total",
        f"${cost['total_usd_per_1000_invoices']}",
        f"{cost['region']} list prices of {cost['prices_date']}",
        "",
    ))
    return out


def write_units_row(per_invoice: dict[str, Any], which: str) -> Row:
    """DynamoDB write units per invoice as billed: the table's and the indexes' (per index)."""
    units = per_invoice["dynamodb_write_units"]
    by_index = ", ".join(f"{name} {n}" for name, n in units["by_index"].items())
    split = f"table {units['table']} + indexes {units['indexes']}" + (f" ({by_index})" if by_index else "")
    return (f"DynamoDB write units per invoice{which}", f"{units['total']} ({split})", "", "")


def request_rows(report: dict[str, Any], *, later: bool = False) -> list[tuple[str, str, str]]:
    """(function, requests per invoice, by operation) — who makes each AWS request, heaviest first; of the
    first sync's run, or with `later` of the later sync's (none when it was not run)."""
    if later:
        run = report["end_to_end"].get("later_sync")
        if not run:
            return []
        by_function = run["aws_requests_per_invoice"]["by_function_operation"]
    else:
        by_function = report["aws_requests_per_invoice"]["by_function_operation"]
    out = []
    for function, operations in sorted(by_function.items(), key=lambda item: -sum(item[1].values())):
        ranked = sorted(operations.items(), key=lambda item: (-item[1], item[0]))
        out.append((function, f"{round(sum(operations.values()), 2)}", ", ".join(f"{op} {n}" for op, n in ranked)))
    return out


def cold_import_rows(report: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(function, CPU ms, ratio as shipped (bytecode), ratio without bytecode, heaviest modules beyond boto3)."""
    cold = report["cold_imports"]
    out = []
    for name, figure in sorted(cold["functions"].items(), key=lambda item: -item[1]["ratio"]):
        split = figure["split"]
        heaviest = ", ".join(f"{module} {ms}" for module, ms in split["heaviest"].items())
        out.append((name, f"{figure['cpu_ms']}", f"{figure['ratio']}×",
                    f"{figure['without_bytecode_cpu_ms']} ms ({figure['without_bytecode_ratio']}×)",
                    f"{heaviest}; other {split['other_ms']}; boto3 + botocore {split['baseline_packages_ms']}"))
    return out


# --- output -------------------------------------------------------------------------------------


def machine_line(report: dict[str, Any]) -> str:
    m = report["machine"]
    return (
        f"{m['cpu_model']}, {m['cpu_cores']} cores, {m['memory_gib']} GiB, Python {m['python']}, "
        f"{m['platform']}, load average {m.get('load_average_1m')} at the start · {report['generated_at']}"
    )


def _table(title: str, columns: Sequence[str], body: Sequence[Sequence[str]], caption: str | None = None) -> Table:
    table = Table(title=title, caption=caption)
    for column in columns:
        table.add_column(column)
    for row in body:
        table.add_row(*row)
    return table


COLD_COLUMNS = ["function", "CPU ms", "vs boto3", "without bytecode", "heaviest modules beyond boto3 (ms, -X importtime)"]


def rich_table(report: dict[str, Any]) -> Group:
    return Group(
        _table("issue 15: figures and goals (same run)", ["figure", "measured", "goal", "met"], goal_rows(report)),
        _table("make bench", ["figure", "measured", "baseline (same run)", "ratio"], rows(report)),
        _table("AWS requests per invoice, by function and operation", ["function", "per invoice", "operations"],
               request_rows(report)),
        _table(f"AWS requests per invoice{LATER}", ["function", "per invoice", "operations"],
               request_rows(report, later=True)),
        _table("cold import per function (as shipped)", COLD_COLUMNS, cold_import_rows(report),
               caption=machine_line(report)),
    )


def _markdown_table(columns: Sequence[str], body: Sequence[Sequence[str]], align: Sequence[str]) -> str:
    lines = [f"| {' | '.join(columns)} |", f"|{'|'.join(align)}|"]
    lines += [f"| {' | '.join(row)} |" for row in body]
    return "\n".join(lines) + "\n"


def markdown(report: dict[str, Any]) -> str:
    return "\n".join([
        _markdown_table(["figure (same run)", "measured", "goal", "met"], goal_rows(report), ["---", "---:", "---:", "---"]),
        _markdown_table(["figure", "measured", "baseline (same run)", "ratio"], rows(report), ["---", "---:", "---", "---:"]),
        "AWS requests per invoice, by function and operation:\n",
        _markdown_table(["function", "per invoice", "operations"], request_rows(report), ["---", "---:", "---"]),
        f"AWS requests per invoice{LATER}, by function and operation:\n",
        _markdown_table(["function", "per invoice", "operations"], request_rows(report, later=True),
                        ["---", "---:", "---"]),
        "Cold import per function, as shipped (CPU ms; the split is self time per package):\n",
        _markdown_table(COLD_COLUMNS, cold_import_rows(report), ["---", "---:", "---:", "---:", "---"]),
    ])


README_HEADING = "## Benchmarks"


def readme_section(report: dict[str, Any]) -> str:
    e2e, cost, cold = report["end_to_end"], report["cost_per_1000_invoices"], report["cold_imports"]
    layer, recovery = report["layer"], report.get("recovery") or {}
    return (
        f"{README_HEADING}\n"
        f"From `make bench` on this machine ({machine_line(report)}); `out/bench.json` holds every figure "
        f"and its raw numbers, `python -m bench --update-readme` rewrites this section. Every speed figure "
        f"is a ratio against a baseline measured in the same run. The end-to-end run is {e2e['invoices']} "
        f"invoices over {e2e['issuers']} issuers on the embedded stack (moto + sandboxes in one process): a "
        f"first sync, held for the office's review and then released, and a later sync of as many new "
        f"invoices on the everyday path (no hold), each with its own figures; "
        f"its AWS requests counted at the boto3 layer and attributed to the function the stack was running; "
        f"DynamoDB write units priced as DynamoDB bills them: each item written by the larger of the stored "
        f"item before and after the write, per started KB (twice in a transaction), plus the writes it makes "
        f"on each global secondary index (an entry put, deleted, or moved to a new key: delete + put); "
        f"Lambda GB-seconds are this machine's handler times × the template's MemorySize, so they overstate "
        f"a real arm64 Lambda. Cost at {cost['region']} list prices written down on {cost['prices_date']} "
        f"(`bench/prices.py`). Cold imports run on Python {cold['python']} in Lambda's layout (function "
        f"folder + layers, Lambda's init environment, tracing on), as shipped: `make build` compiles the "
        f"layers and functions to bytecode (\"without bytecode\": what `sam build` alone ships, so a cold "
        f"start compiles what it imports); times are the child's CPU time. Layer size: {layer['source']}. The recovery figure: "
        f"{recovery.get('invoices', '—')} invoices released while the operator sandbox failed 30 % of its "
        f"calls (15 % 5xx, 15 % accepted then timed out), the clock started when the faults stopped.\n\n"
        + markdown(report)
    )


def replace_readme_section(readme: str, section: str) -> str:
    """The README with its Benchmarks section (the last one) replaced, or appended if missing."""
    head, found, _ = readme.partition(f"\n{README_HEADING}\n")
    base = head if found else readme.rstrip("\n")
    return base.rstrip("\n") + "\n\n" + section
