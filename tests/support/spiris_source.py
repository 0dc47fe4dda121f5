"""A connected Spiris sandbox company as the source of invoices, for tests past the sync: seed invoices,
change them at the source (paid, edited), and store the grant where the token broker reads it.

Everything goes over real HTTP to the sandbox (`sandbox.spiris`), as in the fetch tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from invoice_bridge.adapters.spiris_api import HttpSpirisApi
from invoice_bridge.models.integration import Integration, TokenSet
from invoice_bridge.models.spiris import CustomerInvoice
from spiris_sandbox_flow import connect, seed

from sandbox.spiris import serve
from sandbox.spiris.jsonutil import dumps

CUSTOMER = {
    "CustomerNumber": "17",
    "Name": "Kund AB",
    "IsPrivatePerson": False,
    "CorporateIdentityNumber": "556036-0793",
    "EmailAddress": "faktura@kund.se",
    "InvoiceAddress1": "Storgatan 1",
    "InvoicePostalCode": "111 22",
    "InvoiceCity": "Stockholm",
    "InvoiceCountryCode": "SE",
}


def invoice_body(number: int, customer_id: str, **fields: Any) -> dict[str, Any]:
    """A booked, unpaid 1 250 SEK invoice (25 % VAT) as Spiris returns it; `fields` override."""
    body: dict[str, Any] = {
        "InvoiceNumber": number,
        "CustomerId": customer_id,
        "IsCreditInvoice": False,
        "CurrencyCode": "SEK",
        "TotalAmount": Decimal("1250.00"),
        "TotalVatAmount": Decimal("250.00"),
        "TotalAmountInvoiceCurrency": Decimal("1250.00"),
        "TotalVatAmountInvoiceCurrency": Decimal("250.00"),
        "RemainingAmount": Decimal("1250.00"),
        "RemainingAmountInvoiceCurrency": Decimal("1250.00"),
        "PaymentStatus": 1,
        "InvoiceDate": "2026-11-01T00:00:00",
        "DueDate": "2026-12-01T00:00:00",
        "SendType": None,
        "IsSold": False,
        "HasAutoInvoiceError": False,
        "VatSpecification": [
            {"AmountInvoiceCurrency": Decimal("1000.00"), "VatAmountInvoiceCurrency": Decimal("250.00"),
             "VatPercent": Decimal("0.25")}
        ],
        "Rows": [
            {"LineNumber": 0, "Text": "Konsult", "Quantity": 10, "UnitPrice": Decimal("100.00"),
             "AmountNoVat": Decimal("1000.00"), "Amount": Decimal("1000.00"), "VatRate": Decimal("0.25")}
        ],
    }
    body.update(fields)
    return body


@dataclass
class SpirisCompany:
    sandbox: httpx.Client
    company_id: str
    customer_id: str
    tokens: dict[str, Any]

    @property
    def url(self) -> str:
        return str(self.sandbox.base_url)

    def api(self, **options: Any) -> HttpSpirisApi:
        """The API client the sync uses, on this company's access token."""
        return HttpSpirisApi(self.url, lambda: str(self.tokens["access_token"]), sleep=lambda _s: None, **options)

    def add(self, number: int, **fields: Any) -> CustomerInvoice:
        """A booked invoice at the source; returned as the API serves it (with its ModifiedUtc)."""
        created = self._send("POST", "customerinvoices", invoice_body(number, self.customer_id, **fields))
        return self.api().customer_invoice(created["id"])

    def change(self, source_id: str, **fields: Any) -> None:
        """A change at the source (paid, edited): ModifiedUtc moves, as in Spiris."""
        self._send("PATCH", f"customerinvoices/{source_id}", fields, expected=200)

    def faults(self, **faults: float) -> None:
        response = self.sandbox.post("/_sandbox/faults", json=faults)
        assert response.status_code == 204, response.text

    def requests(self, path: str) -> int:
        """How many requests the sandbox answered for `path` (e.g. `GET /v2/customerinvoices/{invoice_id}`)."""
        return int(self.sandbox.get("/_sandbox/stats").json()["requests"].get(path, 0))

    def token_set(self) -> TokenSet:
        now = datetime.now(UTC)
        return TokenSet(access_token=self.tokens["access_token"], refresh_token=self.tokens["refresh_token"],
                        expires_at=now + timedelta(seconds=int(self.tokens["expires_in"])), issued_at=now)

    def store_grant(self, integration: Integration, table_name: str, key_id: str) -> None:
        """The grant where the token broker reads it: KMS ciphertext in the table (adapters/kms_tokens.py)."""
        from invoice_bridge.adapters.kms_tokens import KmsTokenStore

        KmsTokenStore(table_name, key_id).save(integration, self.token_set(), expected_version=None)

    def _send(self, method: str, path: str, body: Any, expected: int = 201) -> Any:
        response = self.sandbox.request(method, f"/_sandbox/companies/{self.company_id}/{path}",
                                        content=dumps(body), headers={"Content-Type": "application/json"})
        assert response.status_code == expected, response.text
        return response.json()


def connected_company(sandbox: httpx.Client) -> SpirisCompany:
    seeded = seed(sandbox)
    tokens = connect(sandbox, seeded)
    company = SpirisCompany(sandbox, seeded.company_id, "", tokens)
    company.customer_id = company._send("POST", "customers", CUSTOMER)["id"]
    return company


@pytest.fixture
def spiris_company() -> Iterator[SpirisCompany]:
    """A fresh sandbox (its own state) with one connected company and one customer."""
    server, base_url = serve("127.0.0.1", 0)
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield connected_company(client)
    server.shutdown()


CLIENT_SECRET_PARAMETER = "/test/spiris-client-secret"


def install_grant(company: SpirisCompany, integration: Integration, table_name: str,
                  monkeypatch: pytest.MonkeyPatch) -> str:
    """What a Lambda's token broker needs to read this company, on moto: a KMS key holding the grant in the
    table, the client secret in SSM, and the environment naming them and the sandbox. Returns the key id."""
    import boto3
    from invoice_bridge import wiring

    from sandbox.spiris import DEFAULT_CLIENT_SECRET

    key_id = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
    boto3.client("ssm").put_parameter(Name=CLIENT_SECRET_PARAMETER, Value=DEFAULT_CLIENT_SECRET,
                                      Type="SecureString", Overwrite=True)
    for name, value in {"TOKEN_KEY_ID": key_id, "SPIRIS_API_URL": company.url, "SPIRIS_IDENTITY_URL": company.url,
                        "SPIRIS_CLIENT_SECRET_PARAMETER": CLIENT_SECRET_PARAMETER}.items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    company.store_grant(integration, table_name, key_id)
    return key_id
