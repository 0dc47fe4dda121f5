"""Cost per 1,000 invoices at the list prices of prices.py, from one end-to-end run's measurements.

Lambda: measured handler seconds × the template's MemorySize (GB-seconds) plus one request per
invocation. SQS: the handlers' own requests plus, for the event-source mappings the bench emulates,
one receive and one delete per consumed batch (the emulation's idle polling is not counted: it is a
fixed cost per queue, not per invoice). DynamoDB: on-demand request units, writes priced by the stored
item before and after each write plus the index writes it causes (awscalls.py, dynamodb_units.py), reads
by the response's size.
S3: PUT-class and GET-class requests. SES: one message per send call. KMS: every request.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from . import prices
from .awscalls import PLATFORM, TABLE, AwsCallCounter

S3_PUT_CLASS = {
    "PutObject",
    "CopyObject",
    "PostObject",
    "ListObjects",
    "ListObjectsV2",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "ListBuckets",
}
SES_SEND = {"SendEmail", "SendRawEmail", "SendBulkEmail", "SendTemplatedEmail"}
FREE = {"ssm"}  # standard SSM parameters with standard throughput cost nothing per request
PER = Decimal(1000)


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)


def esm_sqs_requests(counter: AwsCallCounter) -> int:
    """Receive + delete per batch the emulated event-source mappings consumed (one delete call each)."""
    batches = sum(
        count
        for (function, service, operation), count in counter.requests.items()
        if function == PLATFORM and service == "sqs" and operation in {"DeleteMessageBatch", "DeleteMessage"}
    )
    return 2 * batches


def per_thousand(e2e: dict[str, Any], counter: AwsCallCounter) -> dict[str, Any]:
    """USD per 1,000 invoices per service, with the quantities behind each figure (also per 1,000)."""
    invoices = Decimal(e2e["invoices"])
    scale = PER / invoices
    handler_requests = counter.by_service()

    gb_seconds = Decimal(0)
    lambda_requests = 0
    per_function: dict[str, Any] = {}
    for function, timing in e2e["handlers"].items():
        memory_gb = Decimal(e2e["memory_mb"][function]) / Decimal(1024)
        seconds = Decimal(str(timing["total_seconds"]))
        gb_seconds += seconds * memory_gb
        lambda_requests += int(timing["invocations"])
        per_function[function] = {
            "gb_seconds": str(_money(seconds * memory_gb * scale)),
            "invocations": str(_money(Decimal(timing["invocations"]) * scale)),
        }

    sqs = sum(handler_requests.get("sqs", {}).values()) + esm_sqs_requests(counter)
    write_units, read_units = counter.handler_units()
    table_write_units = counter.handler_write_units().get(TABLE, 0.0)
    s3 = handler_requests.get("s3", {})
    s3_put = sum(n for op, n in s3.items() if op in S3_PUT_CLASS)
    s3_get = sum(n for op, n in s3.items() if op not in S3_PUT_CLASS)
    ses = sum(
        n
        for service in ("ses", "sesv2")
        for op, n in handler_requests.get(service, {}).items()
        if op in SES_SEND
    )
    kms = sum(handler_requests.get("kms", {}).values())

    quantities = {
        "lambda_gb_seconds": gb_seconds * scale,
        "lambda_requests": Decimal(lambda_requests) * scale,
        "sqs_requests": Decimal(sqs) * scale,
        "dynamodb_write_units": Decimal(str(write_units)) * scale,  # the table's and its indexes'
        "dynamodb_table_write_units": Decimal(str(table_write_units)) * scale,
        "dynamodb_index_write_units": Decimal(str(write_units - table_write_units)) * scale,
        "dynamodb_read_units": Decimal(str(read_units)) * scale,
        "s3_put_requests": Decimal(s3_put) * scale,
        "s3_get_requests": Decimal(s3_get) * scale,
        "ses_messages": Decimal(ses) * scale,
        "kms_requests": Decimal(kms) * scale,
    }
    usd = {
        "lambda": quantities["lambda_gb_seconds"] * prices.LAMBDA_GB_SECOND_ARM
        + quantities["lambda_requests"] * prices.LAMBDA_REQUEST,
        "sqs": quantities["sqs_requests"] * prices.SQS_REQUEST,
        "dynamodb": quantities["dynamodb_write_units"] * prices.DYNAMODB_WRITE_REQUEST_UNIT
        + quantities["dynamodb_read_units"] * prices.DYNAMODB_READ_REQUEST_UNIT,
        "s3": quantities["s3_put_requests"] * prices.S3_PUT_REQUEST
        + quantities["s3_get_requests"] * prices.S3_GET_REQUEST,
        "ses": quantities["ses_messages"] * prices.SES_MESSAGE,
        "kms": quantities["kms_requests"] * prices.KMS_REQUEST,
    }
    priced = {"lambda", "sqs", "dynamodb", "s3", "ses", "sesv2", "kms"}
    unpriced = sorted(s for s in handler_requests if s not in priced and s not in FREE)
    rounded = {k: _money(v) for k, v in usd.items()}
    total = sum(rounded.values(), Decimal(0))  # the sum of the figures shown, so the table adds up
    # Issue 15's figure: what the platform costs per invoice, without the messages it sends (SES, and the
    # operator's fees, which are not AWS's) since those are the product rather than overhead.
    platform = total - rounded["ses"]
    return {
        "currency": prices.CURRENCY,
        "region": prices.REGION,
        "prices_date": prices.PRICES_DATE,
        "usd_per_1000_invoices": {k: str(v) for k, v in rounded.items()},
        "total_usd_per_1000_invoices": str(total),
        "platform_usd_per_1000_invoices": str(platform),
        "quantities_per_1000_invoices": {k: str(_money(v)) for k, v in quantities.items()},
        "lambda_per_function_per_1000_invoices": per_function,
        "not_priced": unpriced,
        "free": sorted(s for s in handler_requests if s in FREE),
        "prices": {k: str(v) for k, v in prices.TABLE.items()},
    }


def requests_per_invoice(e2e: dict[str, Any], counter: AwsCallCounter) -> dict[str, Any]:
    """AWS requests per invoice by service (and by operation), and by function and operation, of the
    handlers, plus the emulated event-source mappings' SQS receive/delete estimate kept apart."""
    invoices = e2e["invoices"]
    by_service = counter.by_service()
    dynamodb = by_service.get("dynamodb", {})
    return {
        "by_service": {s: round(sum(ops.values()) / invoices, 2) for s, ops in by_service.items()},
        "by_operation": {
            s: {op: round(n / invoices, 2) for op, n in ops.items()} for s, ops in by_service.items()
        },
        "by_function": {
            fn: {s: round(n / invoices, 2) for s, n in services.items()}
            for fn, services in counter.by_function().items()
            if fn != PLATFORM
        },
        "by_function_operation": {
            fn: {f"{s} {op}": round(n / invoices, 2) for s, ops in services.items() for op, n in ops.items()}
            for fn, services in counter.by_function_operation().items()
        },
        "dynamodb": {
            "total": round(sum(dynamodb.values()) / invoices, 2),
            "by_operation": {op: round(n / invoices, 2) for op, n in sorted(dynamodb.items(), key=lambda x: -x[1])},
        },
        "dynamodb_write_units": write_units_per_invoice(invoices, counter),
        "event_source_mapping_sqs": round(esm_sqs_requests(counter) / invoices, 2),
        "total": round(sum(sum(ops.values()) for ops in by_service.values()) / invoices, 2),
    }


def write_units_per_invoice(invoices: int, counter: AwsCallCounter) -> dict[str, Any]:
    """The handlers' DynamoDB write units per invoice: in all, the table's, each index's, each function's."""
    units = counter.handler_write_units()
    indexes = {name: n for name, n in units.items() if name != TABLE}
    by_function: dict[str, float] = {}
    for (function, _target), n in counter.dynamodb_write_units.items():
        if function != PLATFORM:
            by_function[function] = by_function.get(function, 0.0) + n
    return {
        "total": round(sum(units.values()) / invoices, 2),
        "table": round(units.get(TABLE, 0.0) / invoices, 2),
        "indexes": round(sum(indexes.values()) / invoices, 2),
        "by_index": {name: round(n / invoices, 2) for name, n in sorted(indexes.items())},
        "by_function": {fn: round(n / invoices, 2) for fn, n in sorted(by_function.items(), key=lambda x: -x[1])},
    }
