"""Consent: ordering an integration, the consent link and pages, the Spiris OAuth grant, and token health."""
