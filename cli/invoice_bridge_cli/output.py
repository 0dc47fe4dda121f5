"""Everything the CLI prints: rich tables and panels on stdout, errors and progress on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, TextIO

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table
from rich.text import Text

from .client import ApiError

WIDE_ENOUGH = 200  # when stdout is a file or pipe, do not cut ids at rich's default 80 columns
STATUS_STYLES = {
    "active": "green", "sent": "green", "delivered": "bold green",
    "held": "yellow", "pending_consent": "yellow", "paused": "yellow", "queued": "cyan",
    "rendered": "cyan", "sending": "cyan",
    "failed": "bold red", "error": "bold red", "needs_reconsent": "bold red", "revoked": "dim", "cancelled": "dim",
}


def _console(stream: TextIO) -> Console:
    return Console(file=stream, width=None if stream.isatty() else WIDE_ENOUGH, highlight=False)


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def cell(value: Any) -> Text:
    """A table cell as plain text: names and messages come from invoices and outside systems, and a
    `[red]` in a buyer's name is a name, never rich markup."""
    if value is None or value == "":
        return Text("—", style="dim")
    if isinstance(value, bool):
        return Text("yes", style="green") if value else Text("no", style="dim")
    if isinstance(value, dict):
        return Text(", ".join(f"{k}: {v}" for k, v in value.items() if v not in (None, "")))
    if isinstance(value, list):
        return Text(", ".join(str(v) for v in value))
    return Text(str(value))


def status_cell(value: Any) -> Text:
    if not isinstance(value, str):
        return cell(value)
    return Text(value, style=STATUS_STYLES.get(value, ""))


class Output:
    def __init__(self, *, raw_json: bool, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.raw_json = raw_json
        self.out = _console(stdout or sys.stdout)
        self.err = _console(stderr or sys.stderr)

    # --- raw JSON -----------------------------------------------------------------------------

    def json(self, value: Any) -> None:
        self.out.print(to_json(value), markup=False, highlight=False, soft_wrap=True)

    # --- human output -------------------------------------------------------------------------

    def message(self, text: str) -> None:
        self.out.print(text, markup=False, soft_wrap=True)

    def record(self, title: str, record: dict[str, Any], fields: Sequence[str] | None = None) -> None:
        """One object as a two-column panel (field, value)."""
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for name in fields or list(record):
            if name in record:
                value = record[name]
                table.add_row(name, status_cell(value) if name == "status" else cell(value))
        self.out.print(Panel(table, title=Text(title), title_align="left", expand=False))

    def table(
        self,
        title: str,
        rows: Iterable[dict[str, Any]],
        columns: Sequence[tuple[str, str]],
        *,
        caption: str | None = None,
    ) -> None:
        """rows as a table; columns are (key, header), money columns right-aligned.

        Title and caption are lines of their own: rich would wrap them to the width of a narrow table.
        """
        table = Table()
        for key, header in columns:
            numeric = key in {"total", "amount", "selected"}
            table.add_column(header, justify="right" if numeric and key != "selected" else "left", overflow="fold")
        for row in rows:
            table.add_row(*(status_cell(row.get(k)) if k == "status" else cell(row.get(k)) for k, _ in columns))
        self.out.print(Text(title, style="bold"), soft_wrap=True)
        self.out.print(table)
        if caption:
            self.out.print(Text(caption, style="dim"), soft_wrap=True)

    def progress(self, *, total: int | None = None) -> Progress:
        columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
        if total is not None:
            columns += [BarColumn(), MofNCompleteColumn()]
        else:
            columns.append(TextColumn("{task.completed} so far"))
        return Progress(*columns, console=self.err, transient=True)

    # --- errors -------------------------------------------------------------------------------

    def api_error(self, error: ApiError) -> None:
        body = Text()
        body.append(error.message)
        for detail in error.details:
            body.append("\n• ")
            body.append(_detail_text(detail))
        status = f" (HTTP {error.status})" if error.status else ""
        title = Text(f"error: {error.code}{status}", style="bold red")  # the code comes from the server
        self.err.print(Panel(body, title=title, title_align="left", expand=False))

    def usage_error(self, text: str) -> None:
        self.err.print(Text(f"invoice-bridge: error: {text}", style="red"), soft_wrap=True)


def _detail_text(detail: Any) -> str:
    if isinstance(detail, dict):
        loc = detail.get("loc")
        where = ".".join(str(part) for part in loc if part != "body") if isinstance(loc, list) else ""
        message = detail.get("msg") or detail.get("message") or to_json(detail)
        return f"{where}: {message}" if where else str(message)
    return str(detail)
