"""`SpirisApi` over httpx: the eAccounting API v2 for one connected company.

Errors are classified once, here, into the exceptions below; callers decide what a class means for
the integration (retry later, refresh the token, mark it broken). Tokens never reach a message or log.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from pydantic import ValidationError

from ..models.spiris import (
    NOT_UNICODE,
    CompanySettings,
    Customer,
    CustomerInvoice,
    Meta,
    UnreadableInvoice,
    describe_validation_error,
    lone_surrogate_at,
    parse_customer_invoice,
)
from ..observability import logger, metrics, trace_httpx
from ..ports import (  # the boundary's errors: this adapter classifies every failure into one of them
    FATAL_CODE_MEANINGS,
    InvoicePage,
    SpirisError,
    SpirisFatal,
    SpirisFileRefused,
    SpirisNotFound,
    SpirisPagingError,
    SpirisReauthenticate,
    SpirisRequestError,
    SpirisRetryable,
    SpirisUnreadable,
)

trace_httpx()

COMPANY_SETTINGS = "/v2/companysettings"
CUSTOMER_INVOICES = "/v2/customerinvoices"
CUSTOMER_INVOICE = "/v2/customerinvoices/{invoice_id}"
CUSTOMER_INVOICE_PDF = "/v2/customerinvoices/{invoice_id}/pdf"
CUSTOMER_INVOICE_PRINT = "/v2/customerinvoices/{invoice_id}/print"
CUSTOMER = "/v2/customers/{customer_id}"

FATAL_CODES = frozenset(FATAL_CODE_MEANINGS)
TRY_AGAIN = re.compile(r"Try again in (\d+) seconds?", re.IGNORECASE)
MAX_PAGE_SIZE = 1000
# Spiris' temporary file URLs (the invoice PDF) live on its own hosts, over HTTPS
# (`https://eaccountingstorage{cc}.vismaonline.com/temp/fileanonymous/...`, reference §0).
SPIRIS_FILE_ORIGINS = ("https://*.vismaonline.com",)
MAX_FILE_BYTES = 20 * 1024 * 1024


def file_url_allowed(url: str, origins: tuple[str, ...]) -> bool:
    """Whether `url` is on one of `origins` (`scheme://host[:port]`; a host `*.example.com` stands for any
    subdomain of example.com). Scheme, host and port must all match; the default port is the scheme's."""
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL:
        return False
    for origin in origins:
        allowed = httpx.URL(origin)
        host = allowed.host
        host_ok = target.host.endswith(host[1:]) if host.startswith("*.") else target.host == host
        if target.scheme == allowed.scheme and host_ok and _port(target) == _port(allowed):
            return True
    return False


def _port(url: httpx.URL) -> int | None:
    return url.port or {"https": 443, "http": 80}.get(url.scheme)


def _error_fields(response: httpx.Response) -> tuple[int | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, response.reason_phrase
    if not isinstance(body, dict):
        return None, response.reason_phrase
    code = body.get("ErrorCode")
    message = str(body.get("DeveloperErrorMessage") or body.get("error") or response.reason_phrase)
    try:
        return (int(code) if code is not None else None), message
    except (TypeError, ValueError):
        return None, message


def classify(response: httpx.Response, max_retry_after: float) -> SpirisError:
    """Turn a non-2xx response into exactly one exception class."""
    status = response.status_code
    code, message = _error_fields(response)
    if status == 429 or code == 4010:
        metrics.add_metric(name="SpirisThrottled", unit="Count", value=1)
        match = TRY_AGAIN.search(message)
        header = response.headers.get("Retry-After", "")
        # Seconds to wait: "Try again in N seconds" in the 4010 message, else a Retry-After header.
        wait = int(match.group(1)) if match else int(header) if header.isdigit() else None
        return SpirisRetryable(message, min(wait, max_retry_after) if wait is not None else None, status)
    if status == 401:
        return SpirisReauthenticate("Spiris rejected the access token (401)")
    if code in FATAL_CODES:
        return SpirisFatal(code, message)
    if status == 404 or code == 3000:
        return SpirisNotFound(message)
    if status >= 500 or status == 408:
        return SpirisRetryable(f"Spiris HTTP {status}: {message}", None, status)
    return SpirisRequestError(status, code, message)


def _format_since(moment: datetime) -> str:
    """Spiris wants UTC; a naive datetime is taken as UTC already."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class HttpSpirisApi:
    """The Spiris API for the company the access token is bound to.

    `access_token` is called before every attempt, so a refresher can swap tokens between retries.
    `renew_access_token(rejected)` is asked for a fresh token once per request when Spiris answers 401
    (an access token expired early or invalidated server-side); a second 401 is SpirisReauthenticate.
    `before_request(path_template)` runs before every attempt (the shared 600/min budget plugs in there);
    `expect_requests(path_template, count)` hears what `expect_reads` announces (the budget's `expect`).
    """

    def __init__(
        self,
        base_url: str,
        access_token: Callable[[], str],
        *,
        renew_access_token: Callable[[str], str] | None = None,
        before_request: Callable[[str], None] | None = None,
        expect_requests: Callable[[str, int], None] | None = None,
        client: httpx.Client | None = None,
        max_attempts: int = 4,
        backoff_base_seconds: float = 0.5,
        backoff_cap_seconds: float = 30.0,
        max_retry_after_seconds: float = 60.0,
        page_size: int = MAX_PAGE_SIZE,
        max_pages: int = 100_000,
        timeout_seconds: float = 30.0,
        file_origins: tuple[str, ...] = SPIRIS_FILE_ORIGINS,
        max_file_bytes: int = MAX_FILE_BYTES,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        root = base_url.rstrip("/")
        self._root = root[: -len("/v2")] if root.endswith("/v2") else root
        self._access_token = access_token
        self._renew_access_token = renew_access_token
        self._before_request = before_request
        self._expect_requests = expect_requests
        self._client = client
        self._max_attempts = max(1, max_attempts)
        self._backoff_base = backoff_base_seconds
        self._backoff_cap = backoff_cap_seconds
        self._max_retry_after = max_retry_after_seconds
        self._page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self._max_pages = max_pages
        self._timeout = timeout_seconds
        self._file_origins = file_origins
        self._max_file_bytes = max_file_bytes
        self._sleep = sleep
        self._jitter = jitter

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self._timeout)
        return self._client

    # --- transport -----------------------------------------------------------------------------------

    def _backoff(self, attempt: int, error: SpirisRetryable) -> float:
        if error.retry_after is not None:
            return error.retry_after + self._jitter()  # spread the herd that was told the same second
        ceiling = min(self._backoff_cap, self._backoff_base * (2.0 ** attempt))
        return ceiling * self._jitter()  # full jitter

    def _send(self, template: str, path: str, params: dict[str, Any] | None = None,
              accept: str = "application/json") -> httpx.Response:
        last: SpirisRetryable | None = None
        renew = self._renew_access_token
        renewed = renew is None
        attempt = 0
        while attempt < self._max_attempts:
            if self._before_request is not None:
                self._before_request(template)
            token = self._access_token()
            headers = {"Authorization": f"Bearer {token}", "Accept": accept}
            try:
                response = self.client.get(self._root + path, params=params, headers=headers)
            except httpx.TimeoutException:
                last = SpirisRetryable(f"timeout calling {template}")
            except httpx.TransportError as exc:
                last = SpirisRetryable(f"transport error calling {template}: {type(exc).__name__}")
            else:
                if response.is_success:
                    return response
                error = classify(response, self._max_retry_after)
                if isinstance(error, SpirisReauthenticate) and renew is not None and not renewed:
                    # Refresh once and try again before anyone is asked for a new consent.
                    renewed = True
                    logger.info("spiris rejected the access token; refreshing", extra={"endpoint": template})
                    renew(token)
                    continue
                if not isinstance(error, SpirisRetryable):
                    raise error
                last = error
            attempt += 1
            if attempt < self._max_attempts:
                delay = self._backoff(attempt - 1, last)
                logger.info("spiris call retried", extra={
                    "endpoint": template, "attempt": attempt, "status": last.status, "delay_s": round(delay, 2)})
                self._sleep(delay)
        assert last is not None
        raise last

    def _json(self, template: str, path: str, params: dict[str, Any] | None = None) -> Any:
        response = self._send(template, path, params)
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError as exc:
            raise SpirisRetryable(f"unparseable JSON from {template}", status=response.status_code) from exc

    # --- SpirisApi -------------------------------------------------------------------------------------

    def company_settings(self) -> CompanySettings:
        return CompanySettings.model_validate(self._json(COMPANY_SETTINGS, COMPANY_SETTINGS))

    def customer_invoices_page(self, page: int, page_size: int, modified_since: datetime | None) -> InvoicePage:
        params: dict[str, Any] = {"$page": page, "$pagesize": max(1, min(page_size, MAX_PAGE_SIZE))}
        if modified_since is not None:
            params["modifiedSinceUtc"] = _format_since(modified_since)
        body = self._json(CUSTOMER_INVOICES, CUSTOMER_INVOICES, params)
        data = body.get("Data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise SpirisRequestError(200, None, "unexpected page shape: no Data list")
        try:
            meta = Meta.model_validate(body.get("Meta"))
        except ValidationError as exc:
            raise SpirisRequestError(200, None, f"unexpected page Meta: {exc.error_count()} errors") from exc
        # Each invoice on its own: one that cannot be read is set apart, the others go on.
        invoices: list[CustomerInvoice] = []
        unreadable: list[UnreadableInvoice] = []
        for raw in data:
            parsed = parse_customer_invoice(raw)
            if isinstance(parsed, CustomerInvoice):
                invoices.append(parsed)
            else:
                unreadable.append(parsed)
        return InvoicePage(meta=meta, invoices=invoices, unreadable=unreadable)

    def iter_customer_invoices(self, modified_since: datetime | None) -> Iterator[InvoicePage]:
        """Every page from 1 to the end: stops on empty Data or CurrentPage ≥ TotalNumberOfPages."""
        page = 1
        while True:
            if page > self._max_pages:
                raise SpirisPagingError(f"more than {self._max_pages} pages; stopping")
            result = self.customer_invoices_page(page, self._page_size, modified_since)
            if (result.invoices or result.unreadable) and result.meta.CurrentPage != page:
                # The server ignored $page (the $top/$skip trap): we would read page 1 forever.
                raise SpirisPagingError(f"asked for page {page}, got page {result.meta.CurrentPage}")
            yield result
            if not (result.invoices or result.unreadable) or result.meta.CurrentPage >= result.meta.TotalNumberOfPages:
                return
            page += 1

    def customer_invoice(self, invoice_id: str) -> CustomerInvoice:
        parsed = parse_customer_invoice(self._json(CUSTOMER_INVOICE, CUSTOMER_INVOICE.format(invoice_id=invoice_id)))
        if isinstance(parsed, UnreadableInvoice):
            raise SpirisUnreadable(f"the invoice cannot be read: {parsed.reason}")
        return parsed

    def expect_reads(self, *, customers: int = 0, pdfs: int = 0, invoices: int = 0) -> None:
        if self._expect_requests is not None:
            self._expect_requests(CUSTOMER, customers)  # 0 too: what an earlier page expected is over
            self._expect_requests(CUSTOMER_INVOICE_PDF, pdfs)
            if invoices:
                self._expect_requests(CUSTOMER_INVOICE, invoices)

    def customer(self, customer_id: str) -> Customer:
        body = self._json(CUSTOMER, CUSTOMER.format(customer_id=customer_id))
        surrogate = lone_surrogate_at(body)
        if surrogate is not None:
            raise SpirisUnreadable(f"the customer cannot be read: {surrogate}: {NOT_UNICODE}")
        try:
            return Customer.model_validate(body)
        except ValidationError as exc:
            raise SpirisUnreadable(f"the customer cannot be read: {describe_validation_error(exc)}") from exc

    def customer_invoice_pdf(self, invoice_id: str) -> bytes:
        """The invoice PDF via `/pdf` (temporary URL, fetched without our bearer token): only from Spiris'
        file hosts over HTTPS (`file_origins`), never through a redirect, at most `max_file_bytes`."""
        body = self._json(CUSTOMER_INVOICE_PDF, CUSTOMER_INVOICE_PDF.format(invoice_id=invoice_id))
        url = body.get("Url") if isinstance(body, dict) else None
        if not url:
            response = self._send(CUSTOMER_INVOICE_PRINT, CUSTOMER_INVOICE_PRINT.format(invoice_id=invoice_id),
                                  accept="application/pdf")
            self._check_size(len(response.content))
            return response.content
        if not isinstance(url, str) or not file_url_allowed(url, self._file_origins):
            # Only the host is named: the rest of a temporary URL is a credential.
            host = httpx.URL(url).host if isinstance(url, str) else "?"
            raise SpirisFileRefused(f"the PDF URL is not on Spiris' file hosts over HTTPS (host {host})")
        try:
            with self.client.stream("GET", url, follow_redirects=False) as download:
                if download.is_redirect:
                    raise SpirisFileRefused("the PDF URL redirects; not followed")
                if not download.is_success:
                    raise SpirisRetryable(f"temporary PDF download failed: HTTP {download.status_code}",
                                          status=download.status_code)
                declared = download.headers.get("Content-Length", "")
                if declared.isdigit():
                    self._check_size(int(declared))
                content = bytearray()
                for chunk in download.iter_bytes():
                    content += chunk
                    self._check_size(len(content))
        except httpx.HTTPError as exc:
            raise SpirisRetryable(f"temporary PDF download failed: {type(exc).__name__}") from exc
        return bytes(content)

    def _check_size(self, size: int) -> None:
        if size > self._max_file_bytes:
            raise SpirisFileRefused(f"the PDF is larger than {self._max_file_bytes} bytes")
