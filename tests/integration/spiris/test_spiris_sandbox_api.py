"""The sandbox API over real HTTP, read through HttpSpirisApi: paging, modifiedSinceUtc, 429, stats, errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from invoice_bridge.adapters.spiris_api import (
    SPIRIS_FILE_ORIGINS,
    HttpSpirisApi,
    SpirisFatal,
    SpirisFileRefused,
    SpirisNotFound,
    SpirisRequestError,
    SpirisRetryable,
)
from spiris_sandbox_flow import authorize_query, connect, exchange, hidden_session, seed

from sandbox.spiris import SpirisSandboxConfig, serve
from sandbox.spiris.jsonutil import dumps


@pytest.fixture()
def sandbox() -> Iterator[httpx.Client]:
    server, base_url = serve()
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client
    server.shutdown()


def invoice(number: int, customer_id: str | None = None, **fields: object) -> dict:
    body = {"InvoiceNumber": number, "CustomerId": customer_id, "TotalAmount": Decimal("1250.50"),
            "TotalVatAmount": Decimal("250.10"), "RemainingAmount": Decimal("1250.50"), "PaymentStatus": 1,
            "CurrencyCode": "SEK", "InvoiceDate": "2026-11-01T00:00:00", "DueDate": "2026-12-01T00:00:00",
            "Rows": [{"Text": "Konsult", "Quantity": 10, "UnitPrice": Decimal("100.04"), "VatRate": 0.25}]}
    body.update(fields)
    return body


def post_invoices(client: httpx.Client, company_id: str, invoices: list[dict]) -> list[str]:
    response = client.post(f"/_sandbox/companies/{company_id}/customerinvoices",
                           content=dumps(invoices), headers={"Content-Type": "application/json"})
    assert response.status_code == 201
    return response.json()["ids"]


def api_for(client: httpx.Client, access_token: str, **kwargs: object) -> HttpSpirisApi:
    return HttpSpirisApi(str(client.base_url), lambda: access_token, sleep=lambda s: None, **kwargs)


def test_paging_250_invoices_and_modified_since(sandbox: httpx.Client) -> None:
    seeded = seed(sandbox)
    tokens = connect(sandbox, seeded)
    first_ids = post_invoices(sandbox, seeded.company_id, [invoice(1000 + n) for n in range(250)])
    api = api_for(sandbox, tokens["access_token"], page_size=40)
    pages = list(api.iter_customer_invoices(None))
    assert len(pages) == 7  # 6 full pages of 40, one of 10
    got = [i.Id for p in pages for i in p.invoices]
    assert sorted(got) == sorted(first_ids) and len(set(got)) == 250
    assert pages[0].meta.TotalNumberOfResults == 250 and pages[0].meta.TotalNumberOfPages == 7
    assert pages[0].invoices[0].TotalAmount == Decimal("1250.50")  # exact, not float
    # Later changes: only they come back for modifiedSinceUtc = the first sync's ServerTimeUtc.
    watermark = pages[0].meta.ServerTimeUtc
    changed = sandbox.patch(f"/_sandbox/companies/{seeded.company_id}/customerinvoices/{first_ids[17]}",
                            json={"PaymentStatus": 0, "RemainingAmount": 0})
    assert changed.status_code == 200
    new_ids = post_invoices(sandbox, seeded.company_id, [invoice(2000 + n) for n in range(3)])
    delta = [i for p in api.iter_customer_invoices(watermark) for i in p.invoices]
    assert [i.Id for i in delta] == [first_ids[17], *new_ids]  # ordered by ModifiedUtc
    assert delta[0].PaymentStatus == 0 and delta[0].ModifiedUtc > watermark


def test_raw_envelope_numbers_and_ignored_top_skip(sandbox: httpx.Client) -> None:
    seeded = seed(sandbox)
    token = connect(sandbox, seeded)["access_token"]
    post_invoices(sandbox, seeded.company_id, [invoice(1000 + n) for n in range(5)])
    headers = {"Authorization": f"Bearer {token}"}
    raw = sandbox.get("/v2/customerinvoices", params={"$top": 2, "$skip": 2}, headers=headers)
    assert '"TotalAmount":1250.50' in raw.text  # a JSON number, not a string
    body = raw.json()
    assert len(body["Data"]) == 5 and body["Meta"]["PageSize"] == 50 and body["Meta"]["CurrentPage"] == 1
    big = sandbox.get("/v2/customerinvoices", params={"$pagesize": 5000}, headers=headers).json()
    assert big["Meta"]["PageSize"] == 1000
    one = body["Data"][0]
    assert one["VoucherId"] and one["VoucherNumber"] and one["ModifiedUtc"] and one["CreatedUtc"]


def test_filter_subset_and_unsupported_filter(sandbox: httpx.Client) -> None:
    seeded = seed(sandbox)
    token = connect(sandbox, seeded)["access_token"]
    post_invoices(sandbox, seeded.company_id, [
        invoice(1, PaymentStatus=0, RemainingAmount=0), invoice(2), invoice(3, PaymentStatus=2),
        invoice(4, IsCreditInvoice=True, TotalAmount=Decimal("-100"), RemainingAmount=Decimal("100"))])
    headers = {"Authorization": f"Bearer {token}"}

    def numbers(expression: str) -> list[int]:
        response = sandbox.get("/v2/customerinvoices", params={"$filter": expression}, headers=headers)
        assert response.status_code == 200, response.text
        return sorted(i["InvoiceNumber"] for i in response.json()["Data"])

    assert numbers("PaymentStatus ne 0") == [2, 3, 4]
    assert numbers("PaymentStatus eq 1 or PaymentStatus eq 2") == [2, 3, 4]
    assert numbers("RemainingAmount eq -TotalAmount") == [4]
    assert numbers("RemainingAmount eq TotalAmount") == [2, 3]
    assert numbers("contains(CurrencyCode,'se') and not (PaymentStatus eq 0)") == [2, 3, 4]
    assert numbers("IsCreditInvoice eq true") == [4]
    assert numbers("InvoiceDate ge 2026-11-01 and TotalAmount gt 0") == [1, 2, 3]
    bad = sandbox.get("/v2/customerinvoices", params={"$filter": "substringof('x', Name)"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["ErrorCode"] == 6000


def test_single_invoice_customer_pdf_and_not_found(sandbox: httpx.Client) -> None:
    seeded = seed(sandbox)
    api = api_for(sandbox, connect(sandbox, seeded)["access_token"])
    customer = sandbox.post(f"/_sandbox/companies/{seeded.company_id}/customers", json={
        "Name": "Kund AB", "CustomerNumber": "7", "CorporateIdentityNumber": "556677-8899",
        "EdiGlnNumber": "7300009012345", "InvoicePostalCode": "11122", "InvoiceCity": "Stockholm"})
    customer_id = customer.json()["id"]
    [invoice_id] = post_invoices(sandbox, seeded.company_id, [invoice(1042, customer_id)])
    assert api.customer(customer_id).EdiGlnNumber == "7300009012345"
    assert api.customer_invoice(invoice_id).CustomerName == "Kund AB"
    # The sandbox serves its temporary file over plain HTTP on 127.0.0.1: refused by the production rule
    # (Spiris' hosts, HTTPS), fetched once the sandbox's own origin is allowed, as the embedded stack does.
    with pytest.raises(SpirisFileRefused):
        api.customer_invoice_pdf(invoice_id)
    sandbox_origin = str(sandbox.base_url).rstrip("/")
    api = api_for(sandbox, api._access_token(), file_origins=(*SPIRIS_FILE_ORIGINS, sandbox_origin))
    pdf = api.customer_invoice_pdf(invoice_id)
    assert pdf.startswith(b"%PDF") and len(pdf) > 500
    capped = api_for(sandbox, api._access_token(), file_origins=(sandbox_origin,), max_file_bytes=len(pdf) - 1)
    with pytest.raises(SpirisFileRefused):
        capped.customer_invoice_pdf(invoice_id)
    with pytest.raises(SpirisNotFound):
        api.customer_invoice("00000000-0000-0000-0000-000000000000")
    drafts = sandbox.post(f"/_sandbox/companies/{seeded.company_id}/customerinvoicedrafts",
                          json={"CustomerId": customer_id, "Rows": []})
    assert drafts.status_code == 201
    listed = sandbox.get("/v2/customerinvoicedrafts",
                         headers={"Authorization": f"Bearer {api._access_token()}"}).json()
    assert [d["Id"] for d in listed["Data"]] == [drafts.json()["id"]]
    assert listed["Meta"]["TotalNumberOfResults"] == 1


def test_rate_limit_429_with_exact_body_and_stats() -> None:
    server, base_url = serve(config=SpirisSandboxConfig(rate_limit_per_minute=5))
    try:
        with httpx.Client(base_url=base_url) as client:
            seeded = seed(client)
            token = connect(client, seeded)["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            statuses = [client.get("/v2/companysettings", headers=headers).status_code for _ in range(7)]
            assert statuses == [200] * 5 + [429] * 2
            limited = client.get("/v2/companysettings", headers=headers)
            body = limited.json()
            assert body["ErrorCode"] == 4010
            assert body["DeveloperErrorMessage"].startswith(
                "API calls quota exceeded! maximum admitted 5 per Minute. Try again in ")
            assert body["DeveloperErrorMessage"].endswith(" seconds.")
            # Another endpoint has its own minute.
            assert client.get("/v2/customerinvoices", headers=headers).status_code == 200
            api = api_for(client, token, max_attempts=2, max_retry_after_seconds=120)
            with pytest.raises(SpirisRetryable) as caught:
                api.company_settings()
            assert caught.value.status == 429 and 1 <= (caught.value.retry_after or 0) <= 60
            stats = client.get("/_sandbox/stats").json()
            assert stats["requests"]["GET /v2/companysettings"] == 10
            assert stats["requests"]["GET /v2/customerinvoices"] == 1
            assert stats["requests"]["POST /connect/token"] == 1
            assert stats["max_requests_per_minute"]["/v2/companysettings"] == 10
    finally:
        server.shutdown()


def test_rate_limit_per_calendar_minute_when_configured() -> None:
    """Spiris does not say how it counts the minute; the sandbox can count calendar minutes too."""
    server, base_url = serve(config=SpirisSandboxConfig(rate_limit_per_minute=3))
    try:
        with httpx.Client(base_url=base_url) as client:
            seeded = seed(client)
            token = connect(client, seeded)["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            assert client.post("/_sandbox/config", json={"rate_limit_window": "hourly"}).status_code == 400
            assert client.post("/_sandbox/config", json={"rate_limit_window": "fixed"}).status_code == 204
            if time.time() % 60 > 55:  # keep the four calls inside one calendar minute
                time.sleep(60 - time.time() % 60 + 0.1)
            statuses = [client.get("/v2/companysettings", headers=headers) for _ in range(4)]
            seconds_left = 60 - time.time() % 60
            assert [r.status_code for r in statuses] == [200, 200, 200, 429]
            message = statuses[-1].json()["DeveloperErrorMessage"]
            wait = int(message.removeprefix(
                "API calls quota exceeded! maximum admitted 3 per Minute. Try again in ").split()[0])
            # Until the calendar minute ends (a sliding window would say ~60 s: the first call just went).
            assert abs(wait - seconds_left) <= 2
    finally:
        server.shutdown()


def test_injected_faults_are_retried_by_the_client() -> None:
    server, base_url = serve(config=SpirisSandboxConfig(random_seed=7, injected_retry_after_seconds=0))
    try:
        with httpx.Client(base_url=base_url) as client:
            seeded = seed(client)
            token = connect(client, seeded)["access_token"]
            post_invoices(client, seeded.company_id, [invoice(n) for n in range(120)])
            assert client.post("/_sandbox/faults", json={"rate_429": 0.2, "rate_5xx": 0.2}).status_code == 204
            api = api_for(client, token, page_size=10, max_attempts=20, backoff_base_seconds=0)
            got = [i.Id for p in api.iter_customer_invoices(None) for i in p.invoices]
            assert len(got) == 120 and len(set(got)) == 120
            requests = client.get("/_sandbox/stats").json()["requests"]["GET /v2/customerinvoices"]
            assert requests > 12  # some calls were refused and retried
    finally:
        server.shutdown()


def test_scope_variant_and_company_modes(sandbox: httpx.Client) -> None:
    seeded = seed(sandbox)
    token = connect(sandbox, seeded)["access_token"]
    api = api_for(sandbox, token)
    for mode in (4003, 4004, 4012):
        sandbox.patch(f"/_sandbox/companies/{seeded.company_id}", json={"error_mode": mode})
        with pytest.raises(SpirisFatal) as caught:
            api.company_settings()
        assert caught.value.code == mode
    sandbox.patch(f"/_sandbox/companies/{seeded.company_id}", json={"error_mode": None, "variant": "bookkeeping"})
    assert api.company_settings().Name == "Exempelbolaget AB"
    with pytest.raises(SpirisFatal) as caught:
        next(api.iter_customer_invoices(None))
    assert caught.value.code == 4009


def test_missing_sales_scope_is_4006_and_bad_query_is_a_request_error(sandbox: httpx.Client) -> None:
    seeded = seed(sandbox)
    token = connect(sandbox, seeded)["access_token"]
    with pytest.raises(SpirisRequestError) as caught:
        api_for(sandbox, token).customer_invoices_page(0, 50, None)
    assert caught.value.code == 6000
    page = sandbox.get(authorize_query(prompt="select_account").replace("+ea%3Asales_readonly", ""))
    page = sandbox.post("/connect/authorize/login", data={
        "session": hidden_session(page.text), "email": seeded.email, "password": seeded.password})
    page = sandbox.post("/connect/authorize/company", data={"session": hidden_session(page.text),
                                                            "company": seeded.company_id})
    back = sandbox.post("/connect/authorize/consent", data={"session": hidden_session(page.text),
                                                            "decision": "approve"})
    code = back.headers["location"].split("code=")[1].split("&")[0]
    narrow = exchange(sandbox, code).json()
    assert "ea:sales_readonly" not in narrow["scope"]
    with pytest.raises(SpirisFatal) as fatal:
        next(api_for(sandbox, narrow["access_token"]).iter_customer_invoices(None))
    assert fatal.value.code == 4006
