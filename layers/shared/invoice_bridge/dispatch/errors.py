"""Errors an Operator adapter raises, so dispatch can tell "not sent" from "maybe sent"."""

from __future__ import annotations


class OperatorError(Exception):
    """Base of operator failures. Messages never carry credentials or tokens."""


class OperatorOutcomeUnknown(OperatorError):
    """The call may or may not have taken effect (timeout, dropped connection): reconcile before resending."""


class OperatorUnavailable(OperatorError):
    """Nothing happened and the operator may take it later: it answered "try later" (429, 408, 503, other
    5xx) or could not be reached. `retry_after_seconds` is the operator's own Retry-After, when it sent
    one, so the dispatch can wait at least that long before the message comes back."""

    def __init__(self, message: str, retry_after_seconds: float | None = None):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class OperatorRejected(OperatorError):
    """The operator refused the request (4xx): retrying the same request will not help."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class MailNotSent(Exception):
    """The mail service refused the message before accepting it: it was certainly not sent, and may be
    sent again later (throttling, a paused account, a setting of ours)."""

    def __init__(self, reason: str, retry_after_seconds: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds


class MailRejected(MailNotSent):
    """Refused for the message itself (the address is malformed or refused, the content is refused):
    certainly not sent, and sending it again would be refused again. Final."""


class MailOutcomeUnknown(Exception):
    """No definite answer (a timeout, a dropped connection, a server error): the mail may have gone out.
    Never sent again automatically (at most once)."""
