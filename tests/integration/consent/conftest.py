"""Fixtures of the consent integration tests (defined in consent_support, a uniquely named module)."""

from consent_support import aws, mailer, serial_aws, serial_services, services, spiris  # noqa: F401
