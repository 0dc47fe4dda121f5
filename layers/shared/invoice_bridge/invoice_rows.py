"""Rows of a large invoice, kept in S3 next to its documents when they do not fit in the invoice item.

A DynamoDB item holds at most 400 KB; a 2,000-row invoice is about twice that. Its rows go to
`{issuer_id}/invoices/{invoice_id}/v{version}/rows.json` and the invoice item keeps the key
(`Invoice.rows_key`) with an empty `rows`. The rows of a key never change (new content is a new
version, mapped afresh without a key), so a status update writes the pointer again, never the rows.
Only the render reads rows; it loads them with `with_rows`.
"""

from __future__ import annotations

from pydantic import TypeAdapter

from .models.invoice import Invoice, InvoiceRow
from .ports import DocumentStore, ItemTooLarge

# Rows move out above this many bytes of invoice JSON; the rest of the item (keys, index attributes)
# stays far below the remaining 100 KB.
ROWS_INLINE_LIMIT = 300_000
ITEM_DATA_LIMIT = 380_000

_ROWS = TypeAdapter(list[InvoiceRow])


def rows_key(invoice: Invoice) -> str:
    return f"{invoice.issuer_id}/invoices/{invoice.id}/v{invoice.version}/rows.json"


def stored_json(invoice: Invoice, documents: DocumentStore | None) -> str:
    """The invoice as its item stores it: whole when small; else without rows, which go to S3 once (the
    invoice gets its `rows_key`). Raises ItemTooLarge when it does not fit even so."""
    if invoice.rows_key is None:
        whole = invoice.model_dump_json()
        if len(whole.encode()) <= ROWS_INLINE_LIMIT:
            return whole
        if documents is None:
            raise ItemTooLarge(f"invoice {invoice.id}: {len(invoice.rows)} rows need the documents store")
        key = rows_key(invoice)
        documents.put(key, _ROWS.dump_json(invoice.rows), "application/json")
        invoice.rows_key = key
    data = invoice.model_copy(update={"rows": []}).model_dump_json()
    if len(data.encode()) > ITEM_DATA_LIMIT:
        raise ItemTooLarge(f"invoice {invoice.id} is too large to store even without its rows")
    return data


def with_rows(invoice: Invoice, documents: DocumentStore) -> Invoice:
    """The invoice with its rows, loaded from S3 when they are kept there."""
    if invoice.rows_key is None or invoice.rows:
        return invoice
    return invoice.model_copy(update={"rows": _ROWS.validate_json(documents.get(invoice.rows_key))})
