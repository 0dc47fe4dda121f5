"""The walking skeleton's story, told only through HTTP faces: the admin API, the consent pages, the
Spiris and operator sandboxes' control routes. `make run` prints it; the end-to-end test asserts it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from . import onboarding
from .onboarding import logo_png, post_json
from .seed import RowSpec, customer, invoice, org_number, stockholm_today
from .vat_cases import BY_NAME, CUSTOMERS, case_invoice

ISSUER_ORG = org_number("556677880")
CONTACT_EMAIL = "anna.andersson@exempelbolaget.se"
CONTACT_PASSWORD = "Sommar2026!"


@dataclass
class Scenario:
    api_url: str
    admin_token: str
    spiris_url: str
    operator_url: str
    issuer_id: str = ""
    integration_id: str = ""
    company_id: str = ""
    expected_selected: int = 0
    expected_skipped: dict[str, str] = field(default_factory=dict)  # invoice number → reason

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url, headers={"Authorization": f"Bearer {self.admin_token}"}, timeout=60
        )

    # --- the sandboxes: the issuer's Spiris company and the buyers' e-invoice addresses ----------

    def seed_spiris(self) -> None:
        with httpx.Client(base_url=self.spiris_url, timeout=30) as spiris:
            self.company_id = onboarding.spiris_company(
                spiris, name="Exempelbolaget AB", org=ISSUER_ORG, contact_email=CONTACT_EMAIL, password=CONTACT_PASSWORD
            )
            buyers = {
                "retail": customer("Nordisk Detaljhandel AB", org_number("556012345"), customer_number="10"),
                "bygg": customer("Byggbolaget i Norr AB", org_number("556234567"), customer_number="11",
                                 gln="7300009012343", city="Umeå"),
                "cafe": customer("Café Solsidan AB", org_number("556345678"), customer_number="12",
                                 email="ekonomi@cafesolsidan.se", city="Göteborg"),
                "konsult": customer("Konsultgruppen Syd AB", org_number("556456789"), customer_number="13",
                                    email="faktura@konsultgruppen.se", city="Malmö"),
                "gard": customer("Lantgården i Ösmo HB", org_number("969876543"), customer_number="14",
                                 city="Ösmo"),
                "export": customer("Baltic Trading AB", org_number("556567890"), customer_number="15",
                                   email="accounts@baltictrading.se"),
            }
            buyers["private"] = CUSTOMERS["rot"]  # ROT work for a private person: by e-mail, never e-invoice
            for buyer in buyers.values():
                post_json(spiris, f"/_sandbox/companies/{self.company_id}/customers", buyer)
            d = Decimal
            selected = [
                invoice(buyers["retail"], 1001, [RowSpec("Konsulttimmar oktober", d("12"), d("950.00"), unit="h"),
                                                  RowSpec("Resekostnader", d("1"), d("1240.00"))]),
                invoice(buyers["bygg"], 1002, [RowSpec("Byggmaterial", d("40"), d("89.50")),
                                                RowSpec("Hyra av ställning", d("5"), d("450.00"), unit="dag"),
                                                RowSpec("Facklitteratur", d("2"), d("349.00"), d("0.06"))]),
                invoice(buyers["cafe"], 1003, [RowSpec("Kaffebönor 1 kg", d("24"), d("189.00"), d("0.12")),
                                                RowSpec("Service espressomaskin", d("1"), d("1450.00"))],
                        payment_status=2),
                invoice(buyers["konsult"], 1004, [RowSpec("Licens, årsavgift", d("1"), d("24000.00"))],
                        remaining=d("10000.00")),
                invoice(buyers["gard"], 1005, [RowSpec("Reservdelar traktor", d("3"), d("1299.00"), discount=d("0.10"))]),
                invoice(buyers["export"], 1006, [RowSpec("Consulting, November", d("20"), d("120.00"), unit="h")],
                        currency="EUR"),
                case_invoice(BY_NAME["rot"], 1010, invoice_date=stockholm_today()),
            ]
            skipped = {
                "1007": ("paid", invoice(buyers["retail"], 1007, [RowSpec("Support", d("1"), d("500.00"))],
                                         payment_status=0, remaining=d("0"))),
                "1008": ("sent_by_autoinvoice", invoice(buyers["cafe"], 1008, [RowSpec("Kaffe", d("1"), d("99.00"))],
                                                        send_type=1)),
                "1009": ("sold_to_factoring", invoice(buyers["konsult"], 1009,
                                                      [RowSpec("Rådgivning", d("2"), d("1100.00"))], is_sold=True)),
            }
            for source in selected + [inv for _, inv in skipped.values()]:
                post_json(spiris, f"/_sandbox/companies/{self.company_id}/customerinvoices", source)
            self.expected_selected = len(selected)
            self.expected_skipped = {number: reason for number, (reason, _) in skipped.items()}

    def seed_operator(self) -> dict[str, str]:
        with httpx.Client(base_url=self.operator_url, timeout=30) as operator:
            account = onboarding.operator_account(operator)
            operator.post("/_sandbox/receivers", json={"org_number": org_number("556012345"),
                                                       "name": "Nordisk Detaljhandel AB"}).raise_for_status()
            operator.post("/_sandbox/receivers", json={"gln": "7300009012343",
                                                       "name": "Byggbolaget i Norr AB"}).raise_for_status()
            return account

    # --- the office's side, through the admin API -------------------------------------------------

    def create_issuer(self, operator_account: dict[str, str]) -> None:
        with self.admin() as admin:
            self.issuer_id = onboarding.create_issuer(
                admin, name="Exempelbolaget AB", org=ISSUER_ORG, notification_email="ekonomi@exempelbolaget.se",
                account=operator_account, logo=logo_png(),
            )

    def order_integration(self) -> str:
        with self.admin() as admin:
            ordered = onboarding.order_integration(
                admin, self.issuer_id, contact_name="Anna Andersson", contact_email=CONTACT_EMAIL
            )
        self.integration_id = ordered["id"]
        return ordered["consent_url"]  # type: ignore[no-any-return]

    def consent(self, consent_url: str) -> int:
        return onboarding.consent(
            consent_url, contact_email=CONTACT_EMAIL, password=CONTACT_PASSWORD, company_id=self.company_id
        )

    def sync_now(self) -> None:
        with self.admin() as admin:
            admin.post(f"/integrations/{self.integration_id}/sync").raise_for_status()

    def release_held(self) -> int:
        with self.admin() as admin:
            held = admin.get("/invoices", params={"issuer_id": self.issuer_id, "status": "held", "limit": 500})
            held.raise_for_status()
            for item in held.json()["items"]:
                admin.post(f"/invoices/{item['id']}/release").raise_for_status()
            return len(held.json()["items"])

    def invoices(self) -> list[dict[str, Any]]:
        with self.admin() as admin:
            listed = admin.get("/invoices", params={"issuer_id": self.issuer_id, "limit": 500})
            listed.raise_for_status()
            return [admin.get(f"/invoices/{i['id']}").json() for i in listed.json()["items"]]

    def wait(self, predicate: Any, timeout: float = 60.0, interval: float = 0.3) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value or time.monotonic() > deadline:
                return value
            time.sleep(interval)
