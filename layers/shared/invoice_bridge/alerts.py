"""Alerts when an integration stops: the issuer's notification address and the office are told what
happened and what to do, in the issuer's language, once per transition (a stopped integration is
no longer synced, so it is not alerted again)."""

from __future__ import annotations

import time
from collections.abc import Callable

from aws_lambda_powertools.metrics import MetricUnit

from .consent.pages import notice_mail
from .fetch.decisions import SyncDecision
from .models.integration import Integration
from .models.issuer import Issuer
from .observability import metrics
from .ports import Mail, Mailer, MailNotSent

# What the person at the issuer should do, per Spiris error code (spiris-api.md §1.8).
_ACTIONS = {
    "sv": {
        "4002": "Aktivera tillägget Integration (API) i Spiris under Inställningar → Appar och tillägg.",
        "4003": "Slutför startguiden i Spiris.",
        "4004": "Företaget är inaktivt i Spiris: återaktivera det.",
        "4005": "Spiris godkände inte anropen för företaget: ge behörighet på nytt med en användare som har full "
        "behörighet i företaget.",
        "4006": "Medgivandet saknar åtkomst till försäljning: ge behörighet på nytt och godkänn all begärd åtkomst.",
        "4007": "Användaren som gav behörighet har en roll utan rätt att läsa kundfakturor: ge användaren full "
        "behörighet i Spiris, eller låt en användare med full behörighet ge medgivandet på nytt.",
        "4034": "Byråns koppling använder en testklient (sandbox) från Spiris mot ett riktigt företag: byrån "
        "behöver byta till sin produktionsklient. Kontakta byrån; du behöver inte göra något i Spiris.",
        "4009": "Företagets Spiris-variant saknar fakturering: byt till en variant med fakturering.",
        "4011": "Användaren som gav behörighet saknar åtkomst till företaget: ge en användare med full behörighet "
        "medgivandet på nytt.",
        "4012": "Logga in i Spiris en gång och godkänn licensavtalet.",
        "": "Kontrollera företaget i Spiris och kontakta byrån.",
    },
    "en": {
        "4002": "Activate the Integration (API) add-on in Spiris under Settings → Apps and extensions.",
        "4003": "Complete the startup guide in Spiris.",
        "4004": "The company is inactive in Spiris: reactivate it.",
        "4005": "Spiris did not authorise the requests for the company: grant access again with a user who has "
        "full permission in the company.",
        "4006": "The consent lacks access to sales: grant access again and approve all access asked for.",
        "4007": "The user who granted access has a role without permission to read customer invoices: give the "
        "user full permission in Spiris, or have a user with full permission grant access again.",
        "4034": "The office's connection uses a Spiris sandbox client against a live company: the office must "
        "switch to its production client. Contact the office; nothing needs doing in Spiris.",
        "4009": "The company's Spiris variant has no invoicing: switch to a variant with invoicing.",
        "4011": "The user who granted access has no access to the company: have a user with full permission "
        "grant access again.",
        "4012": "Log in to Spiris once and accept the licence agreement.",
        "": "Check the company in Spiris and contact the office.",
    },
}


def notify_integration_stopped(
    integration: Integration,
    issuer: Issuer,
    *,
    error_code: str | None,
    mailer: Mailer,
    office_name: str,
    office_email: str,
) -> None:
    language = issuer.language
    action = _ACTIONS[language].get(error_code or "", _ACTIONS[language][""])
    if language == "sv":
        subject = f"Fakturaintegrationen för {issuer.name} har stoppat"
        paragraphs = [
            f"{office_name} kan inte längre hämta fakturor från Spiris för {issuer.name}"
            + (f" (Spiris felkod {error_code})." if error_code else "."),
            f"Vad du behöver göra: {action}",
            "Inga fakturor skickas förrän integrationen fungerar igen; inget går förlorat.",
        ]
    else:
        subject = f"The invoice integration for {issuer.name} has stopped"
        paragraphs = [
            f"{office_name} can no longer fetch invoices from Spiris for {issuer.name}"
            + (f" (Spiris error code {error_code})." if error_code else "."),
            f"What to do: {action}",
            "No invoices go out until the integration works again; nothing is lost.",
        ]
    content = notice_mail(language, office_name, subject, paragraphs)
    recipients = list(dict.fromkeys([str(issuer.notification_email), office_email]))
    send_alert(mailer, Mail(to=recipients, subject=content.subject, text=content.text, html=content.html))
    metrics.add_metric(name="IntegrationFailed", unit=MetricUnit.Count, value=1)


def notify_invoice_parked(
    issuer: Issuer,
    parked: SyncDecision,
    *,
    mailer: Mailer,
    office_name: str,
) -> None:
    """Tell the issuer that one source invoice cannot be taken over, and what to do about it; once per
    source version (the sync remembers that this version was notified)."""
    number = str(parked.invoice_number) if parked.invoice_number is not None else parked.source_id
    disagrees = parked.reason == "fidelity"  # it reads, but ours would not agree with it (fetch/sync.py)
    if issuer.language == "sv":
        subject = f"Faktura {number} i Spiris kunde inte tas över"
        paragraphs = [
            f"{office_name} kunde inte {'ta över' if disagrees else 'läsa'} faktura {number} "
            f"(Spiris-id {parked.source_id}) för {issuer.name}"
            + (": beloppen i Spiris går inte ihop, så vår faktura skulle inte visa det som bokförts." if disagrees
               else "."),
            f"Orsak (tekniskt): {parked.detail}",
            "Fakturan skickas inte som den är. Rätta den i Spiris; den hämtas då igen automatiskt. "
            "Övriga fakturor påverkas inte.",
        ]
    else:
        subject = f"Invoice {number} in Spiris could not be taken over"
        paragraphs = [
            f"{office_name} could not {'take over' if disagrees else 'read'} invoice {number} "
            f"(Spiris id {parked.source_id}) for {issuer.name}"
            + (": its figures in Spiris do not agree, so ours would not state what was booked." if disagrees
               else "."),
            f"Reason (technical): {parked.detail}",
            "The invoice is not sent as it is. Correct it in Spiris; it is then fetched again by itself. "
            "Other invoices are not affected.",
        ]
    content = notice_mail(issuer.language, office_name, subject, paragraphs)
    mailer.send(
        Mail(to=[str(issuer.notification_email)], subject=content.subject, text=content.text, html=content.html)
    )


ALERT_SEND_PAUSES_SECONDS = (1.0, 2.0)  # SES throttling passes in seconds; an alert is told once, never lost


def send_alert(mailer: Mailer, mail: Mail, *, sleep: Callable[[float], None] = time.sleep) -> None:
    """Send a one-time alert (a grant gone, an integration stopped): a refusal that certainly sent nothing
    (MailNotSent, e.g. throttling) is tried again after a pause, since whoever made the transition is the only
    one who tells, and a retried message finds the transition made and stays silent."""
    for pause in ALERT_SEND_PAUSES_SECONDS:
        try:
            mailer.send(mail)
            return
        except MailNotSent as refused:
            sleep(max(pause, refused.retry_after_seconds or 0.0))
    mailer.send(mail)
