"""How the console writes dates and amounts: Stockholm time and Swedish number format in both languages
(the office is Swedish; an English page still shows 12 345,67 and 2026-03-01 14:05)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from ..identifiers import InvalidIdentifier, format_org_number
from ..models.common import STOCKHOLM
from ..render.numbers import format_amount


def amount(value: Decimal | str | None, currency: str | None = None) -> str:
    """12345.6 → "12 345,60 SEK" (non-breaking spaces, decimal comma, two places)."""
    if value is None or value == "":
        return ""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return str(value)
    text = format_amount(number, "sv")
    return f"{text}\u00a0{currency}" if currency else text


def when(moment: datetime | str | None) -> str:
    """A moment as Stockholm's local date and time, to the minute: "2026-03-01 14:05"."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


def day(value: date | datetime | str | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return when(value)[:10]
    if isinstance(value, str):
        return value[:10]
    return value.isoformat()


def org_number(value: str | None) -> str:
    """5566778800 → 556677-8800 (as written in Sweden); anything else as it is."""
    if not value:
        return ""
    try:
        return format_org_number(value)
    except InvalidIdentifier:
        return value
