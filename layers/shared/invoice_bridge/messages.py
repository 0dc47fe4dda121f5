"""Bodies of the queue messages between the functions (docs/architecture.md).

Each model's validator is built at its first use (`defer_build`): a function reads one queue's records
(its handler builds that record model at its cold start, handlers.batch_handler) and sends to at most two
others, so a cold start does not build all six.
"""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import BaseModel, ConfigDict, Field, Json

_AT_FIRST_USE = ConfigDict(defer_build=True)


class SyncRequest(BaseModel):
    model_config = _AT_FIRST_USE

    integration_id: str = Field(min_length=1)
    reason: Literal["schedule", "manual"] = "schedule"
    # The integration's issuer, read with it in one request; None in a message sent before it was carried.
    issuer_id: str | None = Field(default=None, min_length=1)


class InvoiceStepRequest(BaseModel):
    """An invoice's version handed to a step (bodies built by step_messages.py)."""

    model_config = _AT_FIRST_USE

    invoice_id: str = Field(min_length=1)
    version: int = Field(ge=1)
    # Whose invoice it is: the batch reads these with its invoices in one request (batch_invoices.py).
    # None in a message sent before they were carried; the step then reads them on its own.
    issuer_id: str | None = Field(default=None, min_length=1)
    integration_id: str | None = Field(default=None, min_length=1)


class RenderRequest(InvoiceStepRequest):
    pass


class DispatchRequest(InvoiceStepRequest):
    # Set when the delivery was rerouted to this channel after its e-invoice failed: a new message, not a
    # repeat of the first one (the dispatch goes on from the delivery record; logs tell the two apart).
    channel: Literal["email", "print"] | None = None


# SQS records whose JSON body is parsed into the request; a body that does not parse fails only
# its own record (partial batch response) and, after maxReceiveCount, lands in the dead-letter queue.


class SyncRecord(SqsRecordModel):
    model_config = _AT_FIRST_USE

    body: Json[SyncRequest]


class RenderRecord(SqsRecordModel):
    model_config = _AT_FIRST_USE

    body: Json[RenderRequest]


class DispatchRecord(SqsRecordModel):
    model_config = _AT_FIRST_USE

    body: Json[DispatchRequest]
