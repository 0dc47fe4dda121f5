"""The bodies of the messages that hand an invoice's version to render or dispatch (parsed on arrival by
messages.py), built in one place.

Each body names the invoice's issuer and integration besides the invoice and version, so a batch reads
all three kinds with its invoices in one request (batch_invoices.py) instead of reading the invoices first
to learn whose they are. Only a hint for that read: the step itself works from the invoice it reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models.invoice import Invoice


def step_body(
    invoice: Invoice, version: int | None = None, channel: str | None = None
) -> dict[str, object]:
    """The body for `invoice` at `version` (its own version unless given); `channel` for a dispatch rerouted
    to that channel after its e-invoice failed."""
    body: dict[str, object] = {
        "invoice_id": invoice.id,
        "version": invoice.version if version is None else version,
        "issuer_id": invoice.issuer_id,
        "integration_id": invoice.integration_id,
    }
    if channel is not None:
        body["channel"] = channel
    return body
