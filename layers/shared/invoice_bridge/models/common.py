"""Small shared types: identifiers, money, time."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, PlainSerializer

STOCKHOLM = ZoneInfo("Europe/Stockholm")
ORE = Decimal("0.01")

Language = Literal["sv", "en"]
LANGUAGES: dict[str, Language] = {"sv": "sv", "en": "en"}  # a given code → the language we have texts in

# Money is Decimal end to end; JSON carries it as a string so no float ever appears.
Money = Annotated[Decimal, PlainSerializer(lambda d: str(d), return_type=str, when_used="json")]


class Model(BaseModel):
    """Base for domain models: immutable by default would fight pydantic's copy API, so only strict extras."""

    # defer_build: a model's validator is built when it is first used, not at import, so a function pays
    # only for the models it uses (a cold start imports far more models than one invocation touches).
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


def stockholm_date(moment: datetime) -> date:
    """The calendar date of a moment in Sweden (invoice dates are Stockholm dates)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(STOCKHOLM).date()


def round_ore(amount: Decimal) -> Decimal:
    return amount.quantize(ORE, rounding=ROUND_HALF_UP)
