"""Channel policy: e-invoice when the buyer is reachable, else e-mail, else a printed letter.

The e-invoice route is pinned to the address and operator the receiver lookup returned, so the operator
makes no fallback of its own; when that route fails, this policy chooses the next channel the issuer
allows (`exclude`). A letter needs the operator's print service on and a complete postal address; when
the operator prints its own template instead of our PDF, the route says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from ..identifiers import InvalidIdentifier, normalize_email_address
from ..models.invoice import Channel, Invoice, Party
from ..models.issuer import Issuer
from ..ports import Operator, PrintService, Receiver


@dataclass(frozen=True)
class Route:
    """The chosen channel and who it goes to (EIA, e-mail address or postal name)."""

    channel: Channel
    recipient: str
    operator: str | None = None  # e-invoice: the operator the lookup returned (pins the route)
    note: str | None = None  # what the office should know about this choice (e.g. a template letter)


@dataclass(frozen=True)
class NoChannel:
    """No channel can deliver this invoice; `reason` says why, for the issuer's failure e-mail."""

    reason: str  # English, for logs and the admin API
    causes: tuple[str, ...] = ()  # codes the notification templates translate
    code: str = "no_channel"


PrintServiceSource = Callable[[], PrintService]


def choose_channel(
    issuer: Issuer,
    invoice: Invoice,
    receiver: Receiver | None,
    *,
    operator_available: bool = True,
    print_service: PrintServiceSource | None = None,
    exclude: Collection[Channel] = (),
) -> Route | NoChannel:
    """The first channel that can deliver. `print_service` is asked only when a letter is the choice
    (it may call the operator); `exclude` holds channels that already failed for this invoice.

    An invoice without an e-invoice document (`einvoice_key` None: render made none, for a private person
    or a buyer without an electronic address) is never offered as an e-invoice, whatever the operator's
    lookup says; it can still go as a letter, which carries our PDF (dispatch/letters.py)."""
    buyer = invoice.buyer
    has_einvoice = invoice.einvoice_key is not None
    if "einvoice" not in exclude and receiver is not None and operator_available and has_einvoice:
        return Route("einvoice", receiver.eia, operator=receiver.operator)
    email = usable_email(buyer.email)
    if "email" not in exclude and email and issuer.dispatch.email_fallback:
        return Route("email", email)
    causes = _unreachable_causes(issuer, invoice, email, operator_available, exclude)
    if "print" in exclude:
        return _no_channel(causes)
    if not issuer.dispatch.print_fallback:
        return _no_channel([*causes, "print_fallback_off"])
    if not operator_available:
        return _no_channel([*causes, "print_needs_operator"])
    missing = missing_address_parts(buyer)
    if missing:
        return _no_channel([*causes, *missing])
    service = print_service() if print_service is not None else PrintService(enabled=True, own_image=True)
    if not service.enabled:
        return _no_channel([*causes, "print_off_at_operator"])
    return Route("print", buyer.name, note=None if service.own_image else OWN_TEMPLATE_NOTE)


OWN_TEMPLATE_NOTE = (
    "the operator prints the letter on its own template, not our PDF (own-image printing is off in the "
    "issuer's operator account)"
)


def _unreachable_causes(
    issuer: Issuer, invoice: Invoice, email: str | None, operator_available: bool, exclude: Collection[Channel]
) -> list[str]:
    """Why neither e-invoice nor e-mail was chosen (`email`: the buyer's address if usable)."""
    if "einvoice" in exclude:
        causes = ["einvoice_failed"]
    elif invoice.einvoice_key is None:
        causes = ["not_an_einvoice"]
    else:
        causes = ["not_reachable" if operator_available else "no_operator"]
    if "email" in exclude:
        causes.append("email_failed")
    elif not invoice.buyer.email:
        causes.append("no_email")
    elif email is None:
        causes.append("invalid_email")
    elif not issuer.dispatch.email_fallback:
        causes.append("email_fallback_off")
    return causes


def _no_channel(causes: list[str]) -> NoChannel:
    return NoChannel("; ".join(CAUSES_EN[c] for c in causes), tuple(causes))


CAUSES_EN = {
    "not_reachable": "the buyer cannot receive e-invoices",
    "einvoice_failed": "the e-invoice could not be delivered",
    "no_operator": "no e-invoice operator is set up",
    "no_email": "the buyer has no e-mail address",
    "invalid_email": "the buyer's e-mail address is not a valid address",
    "email_failed": "the e-mail could not be delivered",
    "email_fallback_off": "e-mail fallback is turned off",
    "print_fallback_off": "print fallback is turned off",
    "print_needs_operator": "printing needs an e-invoice operator",
    "print_off_at_operator": "the operator's print service is off for the issuer",
    "no_postal_address": "the buyer has no complete postal address",
    "not_an_einvoice": "the invoice cannot be an e-invoice (a private person, or a buyer without an electronic address)",
    "address_no_street": "the buyer's postal address has no street",
    "address_no_postal_code": "the buyer's postal address has no postal code",
    "address_no_city": "the buyer's postal address has no city",
}


def usable_email(address: str | None) -> str | None:
    """The buyer's address as we would send to it, or None when there is none or it is not one valid
    address (checked before anything is sent; SES would refuse it, or worse, read it as two)."""
    if not address:
        return None
    try:
        return normalize_email_address(address)
    except InvalidIdentifier:
        return None


def missing_address_parts(buyer: Party) -> list[str]:
    """The parts a letter needs that the buyer's address lacks, as cause codes (empty: complete)."""
    address = buyer.address
    parts = {"address_no_street": address.street, "address_no_postal_code": address.postal_code,
             "address_no_city": address.city}
    return [code for code, value in parts.items() if not (value and value.strip())]


_LOOKUP_TTL_SECONDS = 3600.0
# Print settings are the office's to change in the operator's portal: read again after a few minutes.
_PRINT_SERVICE_TTL_SECONDS = 300.0
_lookups: dict[tuple[str, str | None, str | None], tuple[Receiver | None, float]] = {}
_print_services: dict[str, tuple[PrintService, float]] = {}
_lookups_lock = threading.Lock()


def find_receiver(operator: Operator, issuer_id: str, buyer: Party) -> Receiver | None:
    """Operator receiver lookup by org number or GLN, cached for an hour per (issuer, buyer ids)."""
    if not buyer.org_number and not buyer.gln:
        return None
    key = (issuer_id, buyer.org_number, buyer.gln)
    with _lookups_lock:
        cached = _lookups.get(key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
    receiver = operator.lookup_receiver(buyer.org_number, buyer.gln)
    with _lookups_lock:
        _lookups[key] = (receiver, time.monotonic() + _LOOKUP_TTL_SECONDS)
    return receiver


def print_service_of(operator: Operator, issuer_id: str) -> PrintService:
    """The operator's print settings for the issuer's account, cached for a few minutes."""
    with _lookups_lock:
        cached = _print_services.get(issuer_id)
        if cached and cached[1] > time.monotonic():
            return cached[0]
    service = operator.print_service()
    with _lookups_lock:
        _print_services[issuer_id] = (service, time.monotonic() + _PRINT_SERVICE_TTL_SECONDS)
    return service


def clear_lookup_cache() -> None:
    with _lookups_lock:
        _lookups.clear()
        _print_services.clear()


def deliverability_problems(issuer: Issuer, *, has_operator: bool) -> list[str]:
    """Why these dispatch settings cannot deliver (empty: they can). Enabling an integration is refused
    while this is non-empty, so invoices do not pile up as failures. Messages are English, for the API."""
    settings = issuer.dispatch
    problems: list[str] = []
    if not has_operator and not settings.email_fallback:
        problems.append(
            "no channel can deliver: there is no e-invoice operator account and e-mail fallback is off"
        )
    if settings.print_fallback and not has_operator:
        problems.append("print fallback needs an e-invoice operator account: letters are printed by the operator")
    return problems
