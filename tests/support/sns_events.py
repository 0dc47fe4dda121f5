"""SNS records as Lambda receives them (SesEventsTopic → SesEventsFunction), for tests of SNS handlers."""

from __future__ import annotations

import json
from typing import Any


def sns_record(notification: dict[str, Any], topic: str = "arn:aws:sns:eu-north-1:123456789012:ses-events") -> dict[str, Any]:
    """One SNS record whose message is `notification` as JSON."""
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": f"{topic}:1f2e",
        "Sns": {
            "Type": "Notification",
            "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "TopicArn": topic,
            "Subject": None,
            "Message": json.dumps(notification),
            "Timestamp": "2026-11-21T06:00:00.000Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertUrl": "https://sns.eu-north-1.amazonaws.com/cert.pem",
            "UnsubscribeUrl": "https://sns.eu-north-1.amazonaws.com/?Action=Unsubscribe",
            "MessageAttributes": {},
        },
    }
