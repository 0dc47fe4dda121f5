"""The issuers one queue batch reads, each once (issue 15: a lean path per invoice).

Lambda hands render and dispatch up to 10 messages at once, mostly of one issuer (a sync queues
an issuer's invoices together). Each record needs the issuer's settings, and render prints the issuer's
logo on every PDF: read once for the batch, not once per record.

Built per invocation by the handler (`entrypoints.render_batch`, `entrypoints.dispatch_batch`) and
dropped with it: an SQS batch lasts seconds, so its records use the settings as they were when it
started; the next invocation reads them again. Never a container-wide cache, which would serve the
office's old settings (a review or approval gate, a payee) to invoices long after they changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .models.issuer import Issuer
from .ports import DocumentStore, IssuerRepository, NotFound

if TYPE_CHECKING:
    from .batch_invoices import BatchFirstRead


def read_logo(issuer: Issuer, documents: DocumentStore) -> bytes | None:
    """The issuer's logo (PNG or JPEG bytes), or None when it has none or it is gone from the store."""
    if not issuer.logo_key:
        return None
    try:
        return documents.get(issuer.logo_key)
    except NotFound:
        return None


class BatchIssuers:
    """An `IssuerRepository` for one batch: `get` reads each issuer once (taken from the batch's first read
    when that had it: batch_invoices.py), `logo` each logo once. A missing issuer is not remembered
    (NotFound each time, as the repository answers)."""

    def __init__(
        self, issuers: IssuerRepository, documents: DocumentStore, first_read: BatchFirstRead | None = None
    ) -> None:
        self._issuers, self._documents, self._first_read = issuers, documents, first_read
        self._read: dict[str, Issuer] = {}
        self._logos: dict[str, bytes | None] = {}
        self._written: set[str] = set()  # issuers written through here: the batch read's copy is old

    def get(self, issuer_id: str) -> Issuer:
        if issuer_id not in self._read:
            known = (self._first_read.issuer(issuer_id)
                     if self._first_read is not None and issuer_id not in self._written else None)
            self._read[issuer_id] = known if known is not None else self._issuers.get(issuer_id)
        return self._read[issuer_id]

    def put(self, issuer: Issuer) -> None:
        self._issuers.put(issuer)
        self._read.pop(issuer.id, None)
        self._written.add(issuer.id)

    def list(self) -> list[Issuer]:
        return self._issuers.list()

    def logo(self, issuer: Issuer) -> bytes | None:
        """`read_logo`, once per logo key."""
        key = issuer.logo_key
        if not key:
            return None
        if key not in self._logos:
            self._logos[key] = read_logo(issuer, self._documents)
        return self._logos[key]
