"""GET /_local/mail shows what SES accepted (simple and raw MIME mails)."""

from __future__ import annotations

from email.message import EmailMessage

import boto3
import httpx

from sandbox.stack import LocalStack


def test_local_mail_lists_ses_mail(stack: LocalStack) -> None:
    ses = boto3.client("sesv2", endpoint_url=stack.aws_endpoint_url, region_name=stack.aws_region)
    ses.send_email(
        FromEmailAddress="noreply@stack-test.example",  # the template's sender domain is verified
        Destination={"ToAddresses": ["buyer@example.se"]},
        Content={"Simple": {"Subject": {"Data": "Faktura 1001"}, "Body": {"Text": {"Data": "Hej!"}}}},
    )
    raw = EmailMessage()
    raw["From"] = "noreply@stack-test.example"
    raw["To"] = "issuer@example.se"
    raw["Subject"] = "Invoice 1002"
    raw.set_content("plain part")
    raw.add_alternative("<p>html part</p>", subtype="html")
    raw.add_attachment(b"%PDF-1.7 fake", maintype="application", subtype="pdf", filename="invoice-1002.pdf")
    ses.send_email(
        FromEmailAddress="noreply@stack-test.example",
        Destination={"ToAddresses": ["issuer@example.se"]},
        Content={"Raw": {"Data": raw.as_bytes()}},
    )

    r = httpx.get(f"{stack.api_url}/_local/mail")
    assert r.status_code == 200
    mails = {m["subject"]: m for m in r.json()}
    assert mails["Faktura 1001"]["to"] == ["buyer@example.se"]
    assert mails["Faktura 1001"]["text"] == "Hej!" and mails["Faktura 1001"]["attachments"] == []
    rich = mails["Invoice 1002"]
    assert rich["to"] == ["issuer@example.se"]
    assert rich["text"].strip() == "plain part"
    assert rich["html"].strip() == "<p>html part</p>"
    assert rich["attachments"] == ["invoice-1002.pdf"]
    assert httpx.get(f"{stack.api_url}/_local/nothing").status_code == 404
