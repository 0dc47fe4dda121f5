"""The operator sandbox's state: accounts (Maventa companies, InExchange clients), receivers in three
networks, the documents received, and the faults and settings tests and the soak turn on.

Where the real services' behaviour is not documented, `Behaviour` holds the choice as a setting, with
the answer that is hardest on a client as the default (README: uncertain facts).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from stdnum.se import orgnr, vat


@dataclass
class Faults:
    rate_5xx: float = 0.0
    rate_429: float = 0.0
    retry_after_seconds: float = 1.0  # the Retry-After of an injected 429 / 503
    timeout_rate: float = 0.0
    accept_then_timeout_rate: float = 0.0
    # Stored, then answered 409 on the client's own id, as when the operator's edge replays an upload and
    # the replay meets the stored original: the client must look the document up (issue 12 §6).
    accept_then_conflict_rate: float = 0.0
    accept_then_conflict_first: float = 0.0  # the first N stored uploads get that 409, whatever the rate draws
    fail_delivery_rate: float = 0.0
    unknown_status_rate: float = 0.0  # a delivery ends in a status value clients do not know
    # How long a "timeout" hangs; longer than the client's timeout.
    hang_seconds: float = 3.0


@dataclass
class Behaviour:
    """Undocumented answers, as settings (POST /_sandbox/settings)."""

    # Maventa: a repeated `uuid` on POST /v1/invoices: "refuse" (status below) or "return_existing".
    duplicate_uuid: str = "refuse"
    duplicate_uuid_status: int = 422
    # InExchange: a repeated ErpDocumentId on documents/outbound: "accept" (a second document) or "refuse".
    inexchange_duplicate_erp_id: str = "accept"
    # Print settings of a new Maventa account (the real default is off; the demo's accounts print).
    print_enabled: bool = True
    use_own_pdf: bool = True


@dataclass
class MaventaAccount:
    company_uuid: str
    api_key: str
    print_settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class InExchangeClient:
    erp_id: str
    company_id: str
    name: str = ""
    paper: bool = True  # the client's paper (letter) service
    tokens: set[str] = field(default_factory=set)


@dataclass
class OperatorState:
    accounts: dict[str, MaventaAccount] = field(default_factory=dict)  # company uuid -> account
    vendor_api_key: str | None = None  # None: any vendor key is accepted
    partner_api_key: str | None = None  # InExchange; None: no partner may create client tokens
    tokens: dict[str, tuple[str, float, frozenset[str]]] = field(default_factory=dict)  # -> (company, expiry, scopes)
    clients: dict[str, InExchangeClient] = field(default_factory=dict)  # erp id -> client
    receivers: list[dict[str, Any]] = field(default_factory=list)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> stored document
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)  # InExchange uploaded files
    faults: Faults = field(default_factory=Faults)
    behaviour: Behaviour = field(default_factory=Behaviour)
    delivery_delay: float = 0.0
    token_requests: int = 0
    client_tokens_created: int = 0
    client_tokens_revoked: int = 0
    injected: Counter[str] = field(default_factory=Counter)  # upload faults answered, by fault
    lock: threading.RLock = field(default_factory=threading.RLock)
    rng: random.Random = field(default_factory=random.Random)

    def reset(self) -> None:
        with self.lock:
            for mapping in (self.accounts, self.tokens, self.clients, self.invoices, self.uploads):
                mapping.clear()
            self.receivers.clear()
            self.faults = Faults()
            self.behaviour = Behaviour()
            self.token_requests = self.client_tokens_created = self.client_tokens_revoked = 0
            self.injected.clear()

    def roll(self, rate: float) -> bool:
        with self.lock:
            return rate > 0 and self.rng.random() < rate

    def conflict_after_accept(self) -> bool:
        """Whether a stored upload is answered 409 on the client's id (Faults.accept_then_conflict_rate)."""
        with self.lock:
            scripted = self.faults.accept_then_conflict_first >= 1
            if scripted:
                self.faults.accept_then_conflict_first -= 1
        if not scripted and not self.roll(self.faults.accept_then_conflict_rate):
            return False
        self.count("accept_then_conflict")
        return True

    def count(self, fault: str) -> None:
        with self.lock:
            self.injected[fault] += 1

    def client_of_token(self, token: str) -> InExchangeClient | None:
        return next((client for client in self.clients.values() if token in client.tokens), None)


def org_digits(value: str | None) -> str | None:
    """A Swedish organisation number written any usual way (`212000-0555`, `2120000555`, or the VAT number
    `SE212000055501`) as its 10 digits; None when it is none of these."""
    if not value:
        return None
    text = str(value).strip()
    for module in (orgnr, vat):
        try:
            compact = str(module.compact(text))
        except Exception:  # noqa: BLE001 - stdnum's errors for malformed input
            continue
        digits = compact[2:] if compact.upper().startswith("SE") else compact
        if module is vat and len(digits) == 12 and digits.endswith("01"):
            digits = digits[:10]
        if len(digits) == 10 and digits.isdigit():
            return digits
    return None
