"""The secret check run after every end-to-end test: passwords, the Spiris client secret, personal identity
numbers (ROT/RUT buyers), JWTs (access tokens) and OAuth query parameters (codes, states, tokens) must not
appear in captured output."""

from __future__ import annotations

import re

from sandbox.scenario import CONTACT_PASSWORD
from sandbox.soak import PASSWORD as SOAK_PASSWORD
from sandbox.spiris import DEFAULT_CLIENT_SECRET
from sandbox.vat_cases import ROT_PERSON, RUT_PERSON

KNOWN_SECRETS = {"contact password": CONTACT_PASSWORD, "soak password": SOAK_PASSWORD,
                 "Spiris client secret": DEFAULT_CLIENT_SECRET, "ROT buyer's personal identity number": ROT_PERSON,
                 "RUT buyer's personal identity number": RUT_PERSON}
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.")
OAUTH_PARAMETER = re.compile(r"[?&](code|state|refresh_token|access_token|code_verifier)=[^&\s\"]+")


def secrets_in(text: str) -> list[str]:
    found = [name for name, value in KNOWN_SECRETS.items() if value in text]
    found += ["a JWT"] if JWT.search(text) else []
    found += ["an OAuth parameter"] if OAUTH_PARAMETER.search(text) else []
    return found
