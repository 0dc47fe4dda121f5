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
    """The mail service refused the message before accepting it: it was certainly not sent."""
