"""In-memory doubles of our ports that more than one test folder uses.

This folder is on sys.path through pytest's `pythonpath` option (pyproject.toml), so any test imports
`from port_doubles import ...`; keep module names here unique among the test helper modules."""

from __future__ import annotations

from invoice_bridge.dispatch.fresh_look import UNCHANGED, FreshLook
from invoice_bridge.models.invoice import Invoice
from invoice_bridge.models.issuer import Issuer
from invoice_bridge.ports import Mail, NotFound


class MemoryIssuers:
    def __init__(self, *issuers: Issuer) -> None:
        self.items = {i.id: i for i in issuers}

    def get(self, issuer_id: str) -> Issuer:
        if issuer_id not in self.items:
            raise NotFound(issuer_id)
        return self.items[issuer_id]

    def put(self, issuer: Issuer) -> None:
        self.items[issuer.id] = issuer

    def list(self) -> list[Issuer]:
        return list(self.items.values())


class RecordingMailer:
    """A Mailer that keeps what it was asked to send (the port, not SES)."""

    def __init__(self) -> None:
        self.sent: list[Mail] = []

    def send(self, mail: Mail) -> str:
        self.sent.append(mail)
        return f"message-{len(self.sent)}"


def source_as_imported(invoice: Invoice, issuer: Issuer) -> FreshLook:
    """Dispatch's fresh look for tests that are not about it: the source is as this version was imported.
    The look itself is tested against the Spiris sandbox (tests/integration/sending)."""
    return UNCHANGED
