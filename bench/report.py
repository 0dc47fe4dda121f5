"""The one benchmark report: every figure with its baseline and ratio, as JSON, a rich table and Markdown."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

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
    "section_seconds",
)


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
    section_seconds: dict[str, float],
    now: datetime | None = None,
) -> dict[str, Any]:
    generated = (now or datetime.now(STOCKHOLM)).astimezone(STOCKHOLM)
    return {
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
        "section_seconds": section_seconds,
    }


def rows(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, measured, baseline, ratio) for the table; every speed figure has a baseline."""
    out: list[tuple[str, str, str, str]] = []
    render = report["render"]
    for pages in ("1_page", "10_page"):
        r = render[pages]
        label = pages.replace("_", " ").replace("10 page", "10 pages")
        out.append(
            (
                f"render {label} PDF (fpdf2)",
                f"{r['fpdf2_ms']} ms",
                f"reportlab {r['reportlab_ms']} ms",
                f"{r['ratio']}×",
            )
        )
        out.append(
            (
                f"validate {label} e-invoice (UBL 2.1 schema + EN 16931 + Peppol rules)",
                f"{r['validation_ms']} ms",
                f"reportlab {r['reportlab_ms']} ms",
                f"{round(r['validation_ms'] / r['reportlab_ms'], 2)}×",
            )
        )
    cold = report["cold_imports"]
    for name, figure in cold["functions"].items():
        out.append(
            (
                f"cold import functions/{name}",
                f"{figure['median_ms']} ms",
                f"import boto3 {cold['baseline_median_ms']} ms",
                f"{figure['ratio']}×",
            )
        )
    polling = report["polling_budget"]
    share = polling["budget_share_used"].get(
        "/v2/customerinvoices", max(polling["budget_share_used"].values())
    )
    out.append(
        (
            f"poll {polling['integrations']:,} integrations until all fresh",
            f"{polling['minutes_until_all_fresh']} min, {share:.1%} of budget",
            f"steady {polling['limit_per_minute']}/min pace {polling['ideal_minutes']} min",
            f"{polling['ratio']}×",
        )
    )
    e2e = report["end_to_end"]
    out.append(
        (
            f"end to end {e2e['invoices']} invoices / {e2e['issuers']} issuers",
            f"{e2e['invoices_per_second']} inv/s",
            f"sync only {e2e['sync_only_invoices_per_second']} inv/s",
            f"{e2e['ratio']}×",
        )
    )
    per_invoice = report["aws_requests_per_invoice"]
    for service, count in sorted(per_invoice["by_service"].items()):
        out.append((f"AWS requests per invoice: {service}", f"{count}", "", ""))
    out.append(
        (
            "AWS requests per invoice: sqs (event-source mapping, est.)",
            f"{per_invoice['event_source_mapping_sqs']}",
            "",
            "",
        )
    )
    cost = report["cost_per_1000_invoices"]
    for service, usd in cost["usd_per_1000_invoices"].items():
        out.append((f"cost per 1,000 invoices: {service}", f"${usd}", "", ""))
    out.append(
        (
            "cost per 1,000 invoices: total",
            f"${cost['total_usd_per_1000_invoices']}",
            f"{cost['region']} list prices of {cost['prices_date']}",
            "",
        )
    )
    return out


def machine_line(report: dict[str, Any]) -> str:
    m = report["machine"]
    return (
        f"{m['cpu_model']}, {m['cpu_cores']} cores, {m['memory_gib']} GiB, Python {m['python']}, "
        f"{m['platform']}, load average {m.get('load_average_1m')} at the start · {report['generated_at']}"
    )


def rich_table(report: dict[str, Any]) -> Table:
    table = Table(title="make bench", caption=machine_line(report))
    for column in ("figure", "measured", "baseline (same run)", "ratio"):
        table.add_column(column, justify="left" if column in ("figure", "baseline (same run)") else "right")
    for row in rows(report):
        table.add_row(*row)
    return table


def markdown(report: dict[str, Any]) -> str:
    lines = ["| figure | measured | baseline (same run) | ratio |", "|---|---:|---|---:|"]
    lines += [f"| {' | '.join(row)} |" for row in rows(report)]
    return "\n".join(lines) + "\n"


README_HEADING = "## Benchmarks"


def readme_section(report: dict[str, Any]) -> str:
    e2e = report["end_to_end"]
    cost = report["cost_per_1000_invoices"]
    return (
        f"{README_HEADING}\n"
        f"From `make bench` on this machine ({machine_line(report)}); `out/bench.json` holds every figure "
        f"and its raw numbers, `python -m bench --update-readme` rewrites this section. Every speed figure "
        f"is a ratio against a baseline measured in the same run. The end-to-end run is {e2e['invoices']} "
        f"invoices over {e2e['issuers']} issuers on the embedded stack (moto + sandboxes in one process), "
        f"counted at the boto3 layer; Lambda GB-seconds are this machine's handler times × the template's "
        f"MemorySize, so they overstate a real arm64 Lambda. Cost at {cost['region']} list prices written "
        f"down on {cost['prices_date']} (`bench/prices.py`).\n\n" + markdown(report)
    )


def replace_readme_section(readme: str, section: str) -> str:
    """The README with its Benchmarks section (the last one) replaced, or appended if missing."""
    head, found, _ = readme.partition(f"\n{README_HEADING}\n")
    base = head if found else readme.rstrip("\n")
    return base.rstrip("\n") + "\n\n" + section
