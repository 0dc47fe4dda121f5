"""HttpSpirisApi against httpx.MockTransport: paging, loop guard, 429 parsing, error classification."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from invoice_bridge.adapters.spiris_api import (
    HttpSpirisApi,
    SpirisFatal,
    SpirisNotFound,
    SpirisPagingError,
    SpirisReauthenticate,
    SpirisRequestError,
    SpirisRetryable,
)

TOKEN = "secret-access-token-value"


def page_body(page: int, size: int, total: int, ids: list[str], pages: int | None = None) -> dict:
    return {
        "Meta": {"CurrentPage": page, "PageSize": size,
                 "TotalNumberOfPages": pages if pages is not None else -(-total // size),
                 "TotalNumberOfResults": total, "ServerTimeUtc": "2026-11-21T05:00:00Z"},
        "Data": [{"Id": i, "TotalAmount": 1250.10, "Rows": []} for i in ids],
    }


def error_body(code: int, message: str) -> dict:
    return {"ErrorCode": code, "DeveloperErrorMessage": message, "ErrorId": "e1", "Errors": None}


def make_api(handler: Callable[[httpx.Request], httpx.Response], **kwargs) -> tuple[HttpSpirisApi, list[float]]:
    sleeps: list[float] = []
    api = HttpSpirisApi(
        "https://eaccountingapi.example/v2/", lambda: TOKEN,
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=sleeps.append, jitter=lambda: 0.5, **kwargs)
    return api, sleeps


def test_pages_to_the_end_with_page_and_pagesize_and_since() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        page = int(request.url.params["$page"])
        ids = {1: ["a", "b"], 2: ["c", "d"], 3: ["e"]}[page]
        return httpx.Response(200, json=page_body(page, 2, 5, ids))

    api, _ = make_api(handler, page_size=2)
    since = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    pages = list(api.iter_customer_invoices(since))
    assert [i.Id for p in pages for i in p.invoices] == ["a", "b", "c", "d", "e"]
    assert len(seen) == 3
    assert all(r.url.params["$pagesize"] == "2" for r in seen)
    assert seen[0].url.params["modifiedSinceUtc"] == "2026-11-01T12:00:00.000000Z"
    assert "$top" not in str(seen[0].url) and "$skip" not in str(seen[0].url)
    assert seen[0].url.path == "/v2/customerinvoices"
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    # Money parsed exactly (parse_float=Decimal), never through float.
    assert pages[0].invoices[0].TotalAmount == Decimal("1250.10")


def test_stops_on_empty_data_even_if_meta_says_more() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=page_body(int(request.url.params["$page"]), 50, 0, [], pages=0))

    api, _ = make_api(handler)
    pages = list(api.iter_customer_invoices(None))
    assert len(pages) == 1 and pages[0].invoices == [] and len(calls) == 1
    assert "modifiedSinceUtc" not in calls[0].url.params


def test_loop_guard_when_server_ignores_page() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=page_body(1, 2, 10, ["a", "b"]))  # always page 1

    api, _ = make_api(handler, page_size=2)
    with pytest.raises(SpirisPagingError):
        list(api.iter_customer_invoices(None))


def test_loop_guard_on_max_pages() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["$page"])
        return httpx.Response(200, json=page_body(page, 1, 10**6, [f"i{page}"]))

    api, _ = make_api(handler, page_size=1, max_pages=5)
    consumed = []
    with pytest.raises(SpirisPagingError):
        for page in api.iter_customer_invoices(None):
            consumed.append(page)
    assert len(consumed) == 5


def test_429_honours_try_again_seconds_capped_then_succeeds() -> None:
    responses = iter([
        httpx.Response(429, json=error_body(
            4010, "API calls quota exceeded! maximum admitted 600 per Minute. Try again in 55 seconds.")),
        httpx.Response(429, json=error_body(
            4010, "API calls quota exceeded! maximum admitted 600 per Minute. Try again in 7 seconds.")),
        httpx.Response(200, json={"Name": "Bolaget AB", "CorporateIdentityNumber": "5561234567"}),
    ])
    api, sleeps = make_api(lambda request: next(responses), max_retry_after_seconds=30)
    assert api.company_settings().Name == "Bolaget AB"
    assert sleeps == [30.5, 7.5]  # capped at 30, plus jitter 0.5


def test_retries_exhausted_raise_retryable_with_retry_after() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(429, json=error_body(4010, "... Try again in 3 seconds."))

    api, sleeps = make_api(handler, max_attempts=3)
    with pytest.raises(SpirisRetryable) as caught:
        api.company_settings()
    assert caught.value.retry_after == 3 and len(calls) == 3 and len(sleeps) == 2


def test_5xx_and_timeouts_are_retried_with_backoff() -> None:
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        if len(attempts) == 2:
            return httpx.Response(503, text="busy")
        return httpx.Response(200, json={"Name": "ok"})

    api, sleeps = make_api(handler, backoff_base_seconds=1)
    assert api.company_settings().Name == "ok"
    assert sleeps == [0.5, 1.0]  # full jitter (0.5) of 1 s and 2 s


def test_token_provider_and_hook_called_every_attempt() -> None:
    hooked: list[str] = []
    tokens = iter(["t1", "t2"])
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(500, json=error_body(5000, "x")) if len(seen) == 1 else \
            httpx.Response(200, json={"Id": "c1", "Name": "Kund AB"})

    api = HttpSpirisApi("https://x.example", lambda: next(tokens), before_request=hooked.append,
                        client=httpx.Client(transport=httpx.MockTransport(handler)), sleep=lambda s: None)
    assert api.customer("c1").Name == "Kund AB"
    assert seen == ["Bearer t1", "Bearer t2"]
    assert hooked == ["/v2/customers/{customer_id}"] * 2


@pytest.mark.parametrize("code", [4002, 4003, 4004, 4005, 4006, 4007, 4009, 4011, 4012, 4034])
def test_fatal_codes(code: int) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(403, json=error_body(code, "ForbiddenRequestException - nope"))

    api, _ = make_api(handler)
    with pytest.raises(SpirisFatal) as caught:
        api.company_settings()
    assert caught.value.code == code and len(calls) == 1


def test_401_means_reauthenticate_and_never_shows_the_token() -> None:
    api, sleeps = make_api(lambda request: httpx.Response(
        401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}))
    with pytest.raises(SpirisReauthenticate) as caught:
        api.company_settings()
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value.args) and sleeps == []


def test_not_found_and_query_errors() -> None:
    api, _ = make_api(lambda request: httpx.Response(404, json=error_body(3000, "not found")))
    with pytest.raises(SpirisNotFound):
        api.customer("missing")
    api, _ = make_api(lambda request: httpx.Response(400, json=error_body(6000, "QueryParameterError")))
    with pytest.raises(SpirisRequestError) as caught:
        api.customer_invoices_page(1, 50, None)
    assert caught.value.code == 6000


def test_pdf_follows_temporary_url_without_bearer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/pdf"):
            return httpx.Response(200, json={"Url": "https://eaccountingstoragese.vismaonline.com/temp/fileanonymous/f1"})
        return httpx.Response(200, content=b"%PDF-1.4 tiny")

    api, _ = make_api(handler)
    assert api.customer_invoice_pdf("inv1") == b"%PDF-1.4 tiny"
    assert "authorization" not in seen[1].headers


def test_base_url_with_or_without_v2() -> None:
    paths = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(200, content=json.dumps({"Name": "n"}))

    for base in ("https://h.example", "https://h.example/v2", "https://h.example/v2/"):
        HttpSpirisApi(base, lambda: "t", client=httpx.Client(transport=httpx.MockTransport(handler))).company_settings()
    assert paths == ["/v2/companysettings"] * 3


def test_a_malformed_invoice_is_set_apart_and_the_rest_of_the_page_is_read() -> None:
    body = page_body(1, 50, 5, ["good-1", "nullrows", "wrongtype", "surrogate", "good-2"])
    body["Data"][1]["Rows"] = None
    body["Data"][2].update(InvoiceNumber=1003, ModifiedUtc="2026-11-20T10:00:00Z",
                           Rows=[{"Quantity": "ten", "Text": "Konsult"}])
    body["Data"][3]["Rows"] = [{"Text": "Konsult \ud800"}]
    text = json.dumps(body)  # ensure_ascii: the lone surrogate travels as a \ud800 escape, as .NET writes it

    api, _ = make_api(lambda request: httpx.Response(200, content=text.encode()))
    page = api.customer_invoices_page(1, 50, None)

    assert [i.Id for i in page.invoices] == ["good-1", "good-2"]
    unreadable = {u.source_id: u for u in page.unreadable}
    assert set(unreadable) == {"nullrows", "wrongtype", "surrogate"}
    assert unreadable["nullrows"].reason == "Rows: Input should be a valid list"
    assert unreadable["wrongtype"].reason == "Rows[0].Quantity: Input should be a valid decimal"
    assert unreadable["wrongtype"].invoice_number == 1003
    assert unreadable["wrongtype"].modified_utc == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert unreadable["surrogate"].reason.startswith("Rows[0].Text: the text is not valid Unicode")
    assert "ten" not in unreadable["wrongtype"].reason  # the input itself is never quoted


def test_a_customer_that_cannot_be_read_is_its_own_error() -> None:
    from invoice_bridge.adapters.spiris_api import SpirisUnreadable

    api, _ = make_api(lambda request: httpx.Response(200, json={"Id": "c1", "IsPrivatePerson": "maybe"}))
    with pytest.raises(SpirisUnreadable) as caught:
        api.customer("c1")
    assert "IsPrivatePerson" in str(caught.value) and "maybe" not in str(caught.value)


def test_a_401_renews_the_token_once_and_retries_before_giving_up() -> None:
    class Tokens:
        def __init__(self, first: str, fresh: str) -> None:
            self.current, self.fresh, self.rejected = first, fresh, []  # type: ignore[var-annotated]

        def __call__(self) -> str:
            return self.current

        def renew(self, rejected: str) -> str:
            self.rejected.append(rejected)
            self.current = self.fresh
            return self.current

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        ok = request.headers["authorization"] == "Bearer fresh"
        return httpx.Response(200, json={"Name": "n"}) if ok else httpx.Response(401)

    def api(tokens: Tokens) -> HttpSpirisApi:
        return HttpSpirisApi("https://h.example", tokens, renew_access_token=tokens.renew, sleep=lambda s: None,
                             client=httpx.Client(transport=httpx.MockTransport(handler)))

    expired_early = Tokens("stale", "fresh")
    assert api(expired_early).company_settings().Name == "n"
    assert expired_early.rejected == ["stale"] and seen == ["Bearer stale", "Bearer fresh"]

    revoked = Tokens("stale", "still-refused")  # the refreshed token is refused too: the grant is gone
    with pytest.raises(SpirisReauthenticate):
        api(revoked).company_settings()
    assert revoked.rejected == ["stale"]


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/temp/fileanonymous/f1",  # not Spiris
        "http://eaccountingstoragese.vismaonline.com/temp/fileanonymous/f1",  # not HTTPS
        "https://eaccountingstoragese.vismaonline.com.evil.example/f1",  # a look-alike
        "https://eaccountingstoragese.vismaonline.com:8443/f1",  # another port
        "file:///etc/passwd",
    ],
)
def test_the_pdf_url_is_fetched_only_from_spiris_hosts_over_https(url: str) -> None:
    from invoice_bridge.adapters.spiris_api import SpirisFileRefused

    fetched: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/pdf"):
            return httpx.Response(200, json={"Url": url})
        fetched.append(str(request.url))
        return httpx.Response(200, content=b"%PDF-1.4 phish")

    api, _ = make_api(handler)
    with pytest.raises(SpirisFileRefused) as refused:
        api.customer_invoice_pdf("inv1")
    assert fetched == [] and "fileanonymous" not in str(refused.value)  # never asked; the URL is not logged


def test_the_pdf_download_is_capped_and_redirects_are_not_followed() -> None:
    from invoice_bridge.adapters.spiris_api import SpirisFileRefused

    file_url = "https://eaccountingstoragese.vismaonline.com/temp/fileanonymous/f1"
    answers = {
        "declared": httpx.Response(200, headers={"Content-Length": "4096"}, content=b"x" * 4096),
        "streamed": httpx.Response(200, content=iter([b"x" * 1000] * 5)),  # no Content-Length
        "redirect": httpx.Response(302, headers={"Location": "https://evil.example/f1"}),
        "small": httpx.Response(200, content=b"%PDF-1.4 ok"),
    }
    seen: list[str] = []
    for case, answer in answers.items():

        def handler(request: httpx.Request, answer: httpx.Response = answer) -> httpx.Response:
            seen.append(request.url.host)
            return httpx.Response(200, json={"Url": file_url}) if request.url.path.endswith("/pdf") else answer

        api, _ = make_api(handler, max_file_bytes=2048)
        if case == "small":
            assert api.customer_invoice_pdf("inv1") == b"%PDF-1.4 ok"
            continue
        with pytest.raises(SpirisFileRefused):
            api.customer_invoice_pdf("inv1")
        assert "evil.example" not in seen
