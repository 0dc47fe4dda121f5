"""The console's request plumbing: a multipart upload keeps the file's bytes exactly, the post-sign-in
target is never another site, cross-site form posts are recognised, amounts read the Swedish way."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from babel.numbers import format_decimal
from invoice_bridge.console.formatting import amount, when
from invoice_bridge.console.web import WebRequest, _parse_form, safe_next
from PIL import Image


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (7, 5), (13, 10, 26)).save(buffer, format="PNG")  # \r\n and \x1a in the signature
    return buffer.getvalue()


def test_a_multipart_upload_keeps_every_byte_and_its_fields() -> None:
    data = _png()
    boundary = "----form7MA4YWxkTrZu0gW"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\u00e9n\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"logo\"; filename=\"l.png\"\r\n"
        "Content-Type: image/png\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    form = _parse_form(f"multipart/form-data; boundary={boundary}", body)
    assert form.get("csrf") == "tok\u00e9n"
    upload = form.files["logo"]
    assert upload.data == data and upload.content_type == "image/png" and upload.filename == "l.png"


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        ("/v1/console/invoices?status=failed", "/v1/console/invoices?status=failed"),
        ("https://evil.example/console", "/v1/console"),
        ("//evil.example/v1/console", "/v1/console"),
        ("/v1/consoleevil", "/v1/consoleevil"),  # a path of this host, never another site
        ("/v1/other", "/v1/console"),
    ],
)
def test_after_sign_in_the_browser_goes_only_to_a_console_page(wanted: str, expected: str) -> None:
    assert safe_next(wanted, "/v1", "/v1/console") == expected


def _request(headers: dict[str, str]) -> WebRequest:
    return WebRequest("POST", "/console/x", "", {}, {"host": "api.example", **headers}, {}, b"")


def test_cross_site_posts_are_recognised() -> None:
    assert _request({"origin": "https://api.example"}).same_origin()
    assert _request({}).same_origin()  # no Origin at all: not a cross-site browser post
    assert not _request({"origin": "https://evil.example"}).same_origin()
    assert not _request({"origin": "null"}).same_origin()
    assert not _request({"referer": "https://evil.example/page"}).same_origin()


@pytest.mark.parametrize("value", ["0", "1", "999.5", "1234.56", "12345678.9"])
def test_amounts_are_written_as_in_sweden(value: str) -> None:
    assert amount(Decimal(value)) == format_decimal(Decimal(value), format="#,##0.00", locale="sv_SE")
    assert amount(Decimal(value), "SEK").endswith("\u00a0SEK")


def test_times_are_stockholm_times() -> None:
    assert when("2026-07-01T22:30:00+00:00") == "2026-07-02 00:30"  # summer time
    assert when("2026-01-15T08:05:00+00:00") == "2026-01-15 09:05"
