"""Every word the contact person reads, in Swedish and English (pages and e-mails)."""

from __future__ import annotations

from typing import Any

TEXTS: dict[str, dict[str, Any]] = {
    "sv": {
        "footer": "Den här sidan skickar inga uppgifter vidare till någon annan än Spiris och {office}.",
        "explain_title": "Koppla ert Spiris-företag för fakturering",
        "explain_who": "{office} ber om behörighet att läsa kundfakturor i Spiris för {issuer}.",
        "explain_access_heading": "Vilken behörighet",
        "explain_access": [
            "Läsbehörighet till försäljning: kundfakturor med rader, kunder och företagsinställningar.",
            "Behörigheten gäller tills ni tar bort den, så att fakturorna kan hämtas automatiskt.",
            "Vi kan inte ändra något i er bokföring.",
        ],
        "explain_why_heading": "Varför",
        "explain_why": (
            "{office} sköter faktureringen åt {issuer}. Bokförda, obetalda fakturor som inte redan skickats "
            "hämtas och skickas till era kunder som e-faktura, e-post eller brev i {office}s format."
        ),
        "explain_needs_heading": "Det här behöver den som godkänner",
        "explain_needs": [
            "Inloggning till Spiris med full behörighet i programmet.",
            "Tillägget API/Integration ska vara aktiverat i Spiris (Inställningar → Appar och tillägg).",
            "Välj företaget med organisationsnummer {org_number} när Spiris frågar.",
        ],
        "explain_next_heading": "Så går det till",
        "explain_next": [
            "Tryck på knappen nedan. Ni skickas till Spiris inloggning.",
            "Logga in och välj rätt företag.",
            "Godkänn behörigheten. Ni kommer tillbaka hit och ser att kopplingen är klar.",
        ],
        "grant_button": "Ge behörighet",
        "explain_revoke": "Ni kan när som helst ta bort behörigheten i Spiris eller be {office} koppla bort den.",
        "badge_done": "Klart",
        "badge_problem": "Inte klart",
        "badge_link": "Länken fungerar inte",
        "done_title": "Kopplingen är klar",
        "done_body": [
            "{company} ({org_number}) är nu kopplat till {office}.",
            "Ni behöver inte göra något mer. Ni kan stänga sidan.",
        ],
        "denied_title": "Ni nekade behörigheten",
        "denied_body": [
            "Ingenting kopplades. Vill ni ändå koppla företaget kan ni öppna länken i e-postmeddelandet igen."
        ],
        "wrong_company_title": "Fel företag valdes",
        "wrong_company_body": [
            "Ni valde {company} ({chosen}), men kopplingen gäller {issuer} med organisationsnummer {expected}. "
            "Ingenting sparades och behörigheten har tagits bort.",
            "Det händer ofta när ett standardföretag är inställt i Spiris: då hoppar Spiris över företagsvalet.",
        ],
        "wrong_company_steps": [
            "Logga in på Spiris, öppna din profil (Mina inställningar) och ta bort valet av standardföretag.",
            "Öppna länken i e-postmeddelandet igen och tryck på Ge behörighet.",
            "Välj företaget med organisationsnummer {expected} i listan.",
        ],
        "module_missing_title": "API-tillägget är inte aktiverat",
        "module_missing_body": [
            "Spiris-företaget har inte tillägget API/Integration aktiverat, så fakturorna kan inte hämtas. "
            "Ingenting sparades."
        ],
        "module_missing_steps": [
            "Logga in i Spiris och gå till Inställningar → Appar och tillägg.",
            "Aktivera tillägget för API/Integration.",
            "Öppna länken i e-postmeddelandet igen och ge behörighet.",
        ],
        "no_access_title": "Användaren saknar behörighet i Spiris",
        "no_access_body": [
            "Användaren du loggade in med har inte full behörighet i programmet för det valda företaget. "
            "Ingenting sparades."
        ],
        "no_access_steps": [
            "Be företagets administratör ge dig full behörighet i Spiris, eller",
            "vidarebefordra länken i e-postmeddelandet till någon som har full behörighet.",
        ],
        "spiris_refused_title": "Spiris nekade åtkomst till företaget",
        "spiris_refused_body": [
            "Spiris svarade med felkod {code} när företaget skulle läsas, så ingenting sparades. Det kan bero på att "
            "startguiden inte är klar, att företaget är inaktivt, att produktvarianten saknar kundfakturor eller att "
            "licensvillkoren inte är godkända.",
            "Logga in i Spiris och åtgärda det som visas där, öppna sedan länken i e-postmeddelandet igen. "
            "{office} ser också felkoden.",
        ],
        "unknown_link_title": "Länken hittades inte",
        "unknown_link_body": ["Kontrollera att hela länken kom med, eller be {office} skicka en ny."],
        "used_link_title": "Länken är redan använd",
        "used_link_body": [
            "Företaget är redan kopplat med den här länken. Behöver ni koppla igen, be {office} om en ny länk."
        ],
        "expired_link_title": "Länken har gått ut",
        "expired_link_body": [
            "Länken gäller inte längre (den är för gammal eller en nyare har skickats). Be {office} om en ny."
        ],
        "bad_state_title": "Inloggningen kunde inte slutföras",
        "bad_state_body": {
            "unknown": "Svaret från Spiris kunde inte kopplas till någon förfrågan. Ingenting sparades.",
            "used": "Svaret från Spiris har redan använts. Ingenting nytt sparades.",
            "expired": "Det tog för lång tid (mer än 10 minuter) mellan knapptrycket och godkännandet. Ingenting sparades.",
            "exchange": "Spiris godkände inte inloggningen. Ingenting sparades.",
        },
        "bad_state_steps": ["Öppna länken i e-postmeddelandet igen och tryck på Ge behörighet."],
        "mail_hello": "Hej {name},",
        "mail_invite_subject": "{office} ber om behörighet till Spiris för {issuer}",
        "mail_invite_body": (
            "{office} sköter faktureringen åt {issuer} och behöver läsbehörighet till era kundfakturor i Spiris. "
            "Öppna länken, läs vad behörigheten innebär och tryck på Ge behörighet."
        ),
        "mail_invite_button": "Öppna och ge behörighet",
        "mail_invite_needs": (
            "Den som godkänner behöver full behörighet i Spiris, och tillägget API/Integration ska vara aktiverat. "
            "Ni kan vidarebefordra länken till en sådan person."
        ),
        "mail_invite_expiry": "Länken gäller i {days} dagar och kan bara användas en gång.",
        "mail_signature": "Vänliga hälsningar\n{office}",
        "mail_connected_subject": "Spiris-företaget {company} är kopplat",
        "mail_connected_body": [
            "{company} ({org_number}) kopplades till {office} den {at}.",
            "Om det inte var ni som godkände detta, kontakta {office} direkt.",
        ],
        "mail_reconsent_subject": "Kopplingen till Spiris för {issuer} måste förnyas",
        "mail_reconsent_body": [
            "Spiris godkänner inte längre behörigheten för {issuer} (till exempel efter byte av lösenord eller om "
            "behörigheten togs bort). Inga fakturor hämtas förrän kopplingen är förnyad.",
            "Kontaktpersonen {contact} {reinvite}",
        ],
        "mail_reconsent_reinvited": "har fått en ny länk via e-post.",
        "mail_reconsent_not_reinvited": "behöver en ny länk: be {office} skicka en.",
    },
    "en": {
        "footer": "This page shares nothing with anyone but Spiris and {office}.",
        "explain_title": "Connect your Spiris company for invoicing",
        "explain_who": "{office} asks for access to read the customer invoices in Spiris for {issuer}.",
        "explain_access_heading": "Which access",
        "explain_access": [
            "Read access to sales: customer invoices with their rows, customers and company settings.",
            "The access lasts until you remove it, so that invoices can be fetched automatically.",
            "We cannot change anything in your accounts.",
        ],
        "explain_why_heading": "Why",
        "explain_why": (
            "{office} handles the invoicing for {issuer}. Booked, unpaid invoices that were not already sent are "
            "fetched and sent to your customers as e-invoice, e-mail or letter in {office}'s layout."
        ),
        "explain_needs_heading": "What the approver needs",
        "explain_needs": [
            "A Spiris login with full program permission.",
            "The API/Integration add-on activated in Spiris (Settings → Apps and extensions).",
            "Choose the company with organisation number {org_number} when Spiris asks.",
        ],
        "explain_next_heading": "How it works",
        "explain_next": [
            "Press the button below. You are taken to the Spiris login.",
            "Log in and choose the right company.",
            "Approve the access. You come back here and see that the connection is done.",
        ],
        "grant_button": "Grant access",
        "explain_revoke": "You can remove the access at any time in Spiris, or ask {office} to disconnect it.",
        "badge_done": "Done",
        "badge_problem": "Not done",
        "badge_link": "The link does not work",
        "done_title": "The connection is done",
        "done_body": [
            "{company} ({org_number}) is now connected to {office}.",
            "There is nothing more to do. You may close this page.",
        ],
        "denied_title": "You denied the access",
        "denied_body": [
            "Nothing was connected. If you still want to connect the company, open the link in the e-mail again."
        ],
        "wrong_company_title": "The wrong company was chosen",
        "wrong_company_body": [
            "You chose {company} ({chosen}), but the connection is for {issuer}, organisation number {expected}. "
            "Nothing was stored and the access was removed.",
            "This often happens when a default company is set in Spiris: Spiris then skips the company choice.",
        ],
        "wrong_company_steps": [
            "Log in to Spiris, open your profile (My settings) and unset the default company.",
            "Open the link in the e-mail again and press Grant access.",
            "Choose the company with organisation number {expected} in the list.",
        ],
        "module_missing_title": "The API add-on is not active",
        "module_missing_body": [
            "The Spiris company does not have the API/Integration add-on activated, so invoices cannot be fetched. "
            "Nothing was stored."
        ],
        "module_missing_steps": [
            "Log in to Spiris and go to Settings → Apps and extensions.",
            "Activate the API/Integration add-on.",
            "Open the link in the e-mail again and grant access.",
        ],
        "no_access_title": "The user has no access in Spiris",
        "no_access_body": [
            "The user you logged in with does not have full program permission for the chosen company. "
            "Nothing was stored."
        ],
        "no_access_steps": [
            "Ask the company's administrator to give you full permission in Spiris, or",
            "forward the link in the e-mail to someone who has full permission.",
        ],
        "spiris_refused_title": "Spiris refused access to the company",
        "spiris_refused_body": [
            "Spiris answered with error code {code} when the company was read, so nothing was stored. The startup "
            "guide may be unfinished, the company inactive, the product variant without customer invoices, or the "
            "licence terms not accepted.",
            "Log in to Spiris, fix what it shows, then open the link in the e-mail again. {office} sees the code too.",
        ],
        "unknown_link_title": "The link was not found",
        "unknown_link_body": ["Check that the whole link was copied, or ask {office} for a new one."],
        "used_link_title": "The link has already been used",
        "used_link_body": [
            "The company is already connected with this link. To connect again, ask {office} for a new link."
        ],
        "expired_link_title": "The link has expired",
        "expired_link_body": [
            "The link is no longer valid (it is too old or a newer one was sent). Ask {office} for a new one."
        ],
        "bad_state_title": "The sign-in could not be completed",
        "bad_state_body": {
            "unknown": "The answer from Spiris does not match any request. Nothing was stored.",
            "used": "The answer from Spiris was already used. Nothing new was stored.",
            "expired": "It took too long (over 10 minutes) between the button and the approval. Nothing was stored.",
            "exchange": "Spiris did not accept the sign-in. Nothing was stored.",
        },
        "bad_state_steps": ["Open the link in the e-mail again and press Grant access."],
        "mail_hello": "Hello {name},",
        "mail_invite_subject": "{office} asks for access to Spiris for {issuer}",
        "mail_invite_body": (
            "{office} handles the invoicing for {issuer} and needs read access to your customer invoices in Spiris. "
            "Open the link, read what the access means and press Grant access."
        ),
        "mail_invite_button": "Open and grant access",
        "mail_invite_needs": (
            "The approver needs full permission in Spiris, and the API/Integration add-on must be active. "
            "You may forward the link to such a person."
        ),
        "mail_invite_expiry": "The link is valid for {days} days and can be used once.",
        "mail_signature": "Kind regards\n{office}",
        "mail_connected_subject": "The Spiris company {company} is connected",
        "mail_connected_body": [
            "{company} ({org_number}) was connected to {office} on {at}.",
            "If you did not approve this, contact {office} at once.",
        ],
        "mail_reconsent_subject": "The Spiris connection for {issuer} must be renewed",
        "mail_reconsent_body": [
            "Spiris no longer accepts the access for {issuer} (for example after a password change or a removed "
            "access). No invoices are fetched until the connection is renewed.",
            "The contact person {contact} {reinvite}",
        ],
        "mail_reconsent_reinvited": "has been e-mailed a new link.",
        "mail_reconsent_not_reinvited": "needs a new link: ask {office} to send one.",
    },
}


def texts(language: str) -> dict[str, Any]:
    return TEXTS.get(language, TEXTS["sv"])
