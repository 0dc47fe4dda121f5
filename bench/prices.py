"""AWS list prices used for the cost per 1,000 invoices (USD, region eu-north-1, on-demand, no free tier).

Written down by hand on PRICES_DATE; AWS changes prices rarely, but check the pages
(https://aws.amazon.com/<service>/pricing/) before quoting a figure. Money is Decimal, as everywhere.

What could be checked here: the AWS pages fill their price tables in by script, so the stored copies
reachable from the build machines carry no figures. Cross-checked with a published copy: Lambda arm64
first tier $0.0000133334/GB-s and $0.20 per million requests (US East; AWS lists the same in Stockholm as
far as we know). SQS, SES and KMS are the same in every commercial region. The DynamoDB and S3 figures for
eu-north-1 are unverified (written from memory) and are the ones to check first.
"""

from __future__ import annotations

from decimal import Decimal

PRICES_DATE = "2026-11-21"
REGION = "eu-north-1"
CURRENCY = "USD"

# Lambda, arm64 (template Globals: Architectures [arm64]), first pricing tier.
LAMBDA_GB_SECOND_ARM = Decimal("0.0000133334")
LAMBDA_REQUEST = Decimal("0.20") / Decimal(1_000_000)
# SQS standard queue: per request (a request carries up to 64 KB; a batch of up to 10 is one request).
SQS_REQUEST = Decimal("0.40") / Decimal(1_000_000)
# DynamoDB on-demand, Standard table class (after the November 2024 on-demand price reduction).
DYNAMODB_WRITE_REQUEST_UNIT = Decimal("0.6613") / Decimal(1_000_000)
DYNAMODB_READ_REQUEST_UNIT = Decimal("0.1323") / Decimal(1_000_000)
# S3 Standard: PUT, COPY, POST, LIST per request; GET and all others per request.
S3_PUT_REQUEST = Decimal("0.005") / Decimal(1_000)
S3_GET_REQUEST = Decimal("0.0004") / Decimal(1_000)
# SES outbound e-mail, per message (attachments' data charge left out: a PDF is ~50 KB).
SES_MESSAGE = Decimal("0.10") / Decimal(1_000)
# KMS symmetric key requests (Encrypt, Decrypt, GenerateDataKey, …); the key's monthly fee is fixed cost.
KMS_REQUEST = Decimal("0.03") / Decimal(10_000)

TABLE: dict[str, Decimal] = {
    "lambda_gb_second_arm64": LAMBDA_GB_SECOND_ARM,
    "lambda_request": LAMBDA_REQUEST,
    "sqs_request": SQS_REQUEST,
    "dynamodb_write_request_unit": DYNAMODB_WRITE_REQUEST_UNIT,
    "dynamodb_read_request_unit": DYNAMODB_READ_REQUEST_UNIT,
    "s3_put_request": S3_PUT_REQUEST,
    "s3_get_request": S3_GET_REQUEST,
    "ses_message": SES_MESSAGE,
    "kms_request": KMS_REQUEST,
}
