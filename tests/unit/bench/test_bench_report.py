"""The bench's report builder: a tiny real run (polling simulation, AWS calls counted on moto, the
cost model) must produce every figure `make bench` promises, each speed figure with its baseline."""

from __future__ import annotations

import json
from dataclasses import asdict
from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from bench import cost, machine, prices, report
from bench import e2e as e2e_bench
from bench.awscalls import PLATFORM, AwsCallCounter
from bench.cold_imports import handler_dirs
from sandbox.lambdas import running

TABLE = "bench-table"


@pytest.fixture
def counter():
    counted = AwsCallCounter()
    counted.install()
    yield counted
    counted.uninstall()


def _tiny_aws_run(counter: AwsCallCounter) -> None:
    """What two invoices' handlers might do: DynamoDB writes and reads, S3, SES, KMS, SQS."""
    with mock_aws():
        session = boto3.session.Session(region_name="eu-north-1")
        dynamodb, s3, sqs = session.client("dynamodb"), session.client("s3"), session.client("sqs")
        kms, ses = session.client("kms"), session.client("sesv2")
        dynamodb.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
        s3.create_bucket(Bucket="docs", CreateBucketConfiguration={"LocationConstraint": "eu-north-1"})
        queue = sqs.create_queue(QueueName="render")["QueueUrl"]
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        ses.create_email_identity(EmailIdentity="example.com")
        with running("RenderFunction"):
            for n in range(2):
                dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": f"i{n}"}, "body": {"S": "x" * 2500}})
                dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"i{n}"}}, ConsistentRead=True)
                s3.put_object(Bucket="docs", Key=f"i{n}.pdf", Body=b"%PDF")
                s3.get_object(Bucket="docs", Key=f"i{n}.pdf")
                sqs.send_message(QueueUrl=queue, MessageBody="{}")
                kms.encrypt(KeyId=key, Plaintext=b"token")
        with running("DispatchFunction"):
            ses.send_email(
                FromEmailAddress="a@example.com",
                Destination={"ToAddresses": ["b@example.com"]},
                Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}},
            )
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        sqs.delete_message_batch(
            QueueUrl=queue,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
        )


def _e2e_figures() -> dict:
    return {
        "invoices": 2,
        "issuers": 1,
        "dispatched": 2,
        "invoices_per_second": 0.5,
        "sync_only_invoices_per_second": 1.0,
        "ratio": 0.5,
        "pipeline_seconds": 4.0,
        **e2e_bench.cpu_figures(3.8, 4.0),
        "handlers": {
            "RenderFunction": {"invocations": 2, "total_seconds": 1.0, "mean_ms": 500.0},
            "DispatchFunction": {"invocations": 1, "total_seconds": 0.5, "mean_ms": 500.0},
        },
        "memory_mb": {"RenderFunction": 1536, "DispatchFunction": 512},
    }


def test_counter_attributes_requests_to_handlers_and_keeps_platform_apart(counter):
    _tiny_aws_run(counter)
    by_function = counter.by_function()
    assert by_function["RenderFunction"] == {"dynamodb": 4, "s3": 4, "sqs": 2, "kms": 2}
    assert by_function["DispatchFunction"] == {"sesv2": 1}
    assert "CreateTable" not in counter.by_service().get("dynamodb", {})  # set-up is the platform's
    assert counter.requests[(PLATFORM, "sqs", "DeleteMessageBatch")] == 1
    writes, reads = counter.handler_units()
    assert writes == 6.0  # two ~2.5 KB items: 3 write units each
    assert reads == 2.0  # two strongly consistent reads under 4 KB


def test_report_has_every_figure_with_its_baseline(counter):
    from bench import polling as polling_bench

    _tiny_aws_run(counter)
    e2e = _e2e_figures()
    render = {
        "font_load_ms": 1.0,
        "rules_compile_ms": 1.0,
        "1_page": {
            "fpdf2_ms": 10.0,
            "reportlab_ms": 20.0,
            "ratio": 0.5,
            "ubl_build_ms": 1.0,
            "validation_ms": 5.0,
        },
        "10_page": {
            "fpdf2_ms": 100.0,
            "reportlab_ms": 200.0,
            "ratio": 0.5,
            "ubl_build_ms": 9.0,
            "validation_ms": 50.0,
        },
    }
    split = {"total_ms": 300.0, "baseline_packages_ms": 100.0, "heaviest": {"pydantic": 120.0}, "other_ms": 80.0}
    cold = {
        "repeat": 1,
        "python": "3.12.1",
        "baseline": "import boto3",
        "baseline_cpu_ms": 100.0,
        "functions": {
            "RenderFunction": {"folder": "render", "cpu_ms": 150.0, "ratio": 1.5, "without_bytecode_cpu_ms": 70.0,
                               "without_bytecode_ratio": 1.4, "split": split},
            "ConsentFunction": {"folder": "oauth_callback", "cpu_ms": 120.0, "ratio": 1.2,
                                "without_bytecode_cpu_ms": 60.0, "without_bytecode_ratio": 1.2, "split": split},
        },
        "worst": {"function": "RenderFunction", "ratio": 1.5},
        "consent": {"function": "ConsentFunction", "ratio": 1.2},
    }
    recovered = {"invoices": 4, "released": 4, "seconds_until_all_terminal": None, "cap_seconds": 600,
                 "still_open_at_cap": 1, "goal_seconds": 420}
    layer = {"source": "installed closure", "unzipped_mb": 90.0, "zipped_mb": None, "package_mb": 5.0}
    built = report.build(
        machine=machine.describe(),
        render=render,
        cold_imports=cold,
        polling=asdict(polling_bench.run(integrations=200)),
        end_to_end=e2e,
        requests_per_invoice=cost.requests_per_invoice(e2e, counter),
        cost=cost.per_thousand(e2e, counter),
        layer=layer,
        recovery=recovered,
        section_seconds={"total": 1.0},
    )

    assert set(report.REQUIRED_KEYS) <= built.keys()
    assert {"cpu_model", "cpu_cores", "memory_gib", "python", "platform"} <= built["machine"].keys()
    assert built["polling_budget"]["integrations"] == 200 and built["polling_budget"]["ratio"] > 0
    per_invoice = built["aws_requests_per_invoice"]
    assert per_invoice["by_service"] == {"dynamodb": 2.0, "kms": 1.0, "s3": 2.0, "sesv2": 0.5, "sqs": 1.0}
    assert per_invoice["event_source_mapping_sqs"] == 1.0  # one consumed batch: a receive and a delete
    assert per_invoice["total"] == 6.5
    assert per_invoice["dynamodb"] == {"total": 2.0, "by_operation": {"GetItem": 1.0, "PutItem": 1.0}}
    # two ~2.5 KB items put, 3 units each, in a table without indexes: 3 per invoice, all the table's
    assert per_invoice["dynamodb_write_units"] == {
        "total": 3.0, "table": 3.0, "indexes": 0.0, "by_index": {}, "by_function": {"RenderFunction": 3.0}
    }
    assert per_invoice["by_function_operation"] == {
        "DispatchFunction": {"sesv2 SendEmail": 0.5},
        "RenderFunction": {
            "dynamodb GetItem": 1.0, "dynamodb PutItem": 1.0, "kms Encrypt": 1.0, "s3 GetObject": 1.0,
            "s3 PutObject": 1.0, "sqs SendMessage": 1.0,
        },
    }

    spent = built["cost_per_1000_invoices"]
    usd = {k: Decimal(v) for k, v in spent["usd_per_1000_invoices"].items()}
    assert set(usd) == {"lambda", "sqs", "dynamodb", "s3", "ses", "kms"}
    # 1 s at 1.5 GB + 0.5 s at 0.5 GB for 2 invoices → 875 GB-s and 1,500 requests per 1,000 invoices
    assert usd["lambda"] == (
        Decimal(875) * prices.LAMBDA_GB_SECOND_ARM + 1500 * prices.LAMBDA_REQUEST
    ).quantize(Decimal("0.00001"))
    assert usd["ses"] == (Decimal(500) * prices.SES_MESSAGE).quantize(Decimal("0.00001"))
    assert Decimal(spent["total_usd_per_1000_invoices"]) == sum(usd.values())
    assert Decimal(spent["platform_usd_per_1000_invoices"]) == sum(usd.values()) - usd["ses"]
    assert spent["prices_date"] == prices.PRICES_DATE
    quantities = spent["quantities_per_1000_invoices"]
    assert (quantities["dynamodb_write_units"], quantities["dynamodb_table_write_units"],
            quantities["dynamodb_index_write_units"]) == ("3000.00000", "3000.00000", "0.00000")

    rows = report.rows(built)
    speed_rows = [
        r for r in rows if r[0].startswith(("render", "validate", "cold import", "poll", "end to end"))
    ]
    assert len(speed_rows) == 4 + 2 + 1 + 2
    # What the pipeline waited on: the one process's CPU for 3.8 s of its 4 s.
    assert ("end to end: the embedded stack's CPU time (one process)", "3.8 s", "pipeline wall time 4.0 s",
            "0.95×") in rows
    assert ("DynamoDB write units per invoice", "3.0 (table 3.0 + indexes 0.0)", "", "") in rows
    assert all(r[2] and r[3].endswith("×") for r in speed_rows)  # every speed figure: baseline and ratio
    goals = {g["figure"]: g for g in built["goals"]}
    assert goals["AWS requests per invoice, all functions"]["measured"] == "6.5"
    assert goals["DynamoDB requests per invoice"]["measured"] == "2.0 (1.0 GetItem, 1.0 PutItem)"
    assert goals["cold import, worst function, vs `import boto3`"]["met"] == "yes"  # 1.5×, consent 1.2×
    assert goals["end-to-end pipeline vs the sync step alone (time per invoice)"]["measured"] == "2.0×"
    assert goals["all invoices terminal after a 30 % operator fault window ends"]["met"] == "no"  # capped
    assert report.request_rows(built)[0] == (
        "RenderFunction", "6.0",
        "dynamodb GetItem 1.0, dynamodb PutItem 1.0, kms Encrypt 1.0, s3 GetObject 1.0, s3 PutObject 1.0, "
        "sqs SendMessage 1.0",
    )
    assert [r[0] for r in report.cold_import_rows(built)] == ["RenderFunction", "ConsentFunction"]
    assert "| RenderFunction | 6.0 |" in report.markdown(built)
    json.dumps(built)  # the report is plain JSON


def test_a_later_syncs_figures_are_its_own_and_the_first_syncs_stay_as_they_were(counter):
    """The later sync's requests are what was counted after the first sync ended (`since`), and the
    counter the first sync's figures come from is put back (`restore`); both get rows in the table."""
    _tiny_aws_run(counter)
    before = counter.copy()
    _tiny_aws_run(counter)
    _tiny_aws_run(counter)
    later_counter = counter.since(before)
    counter.restore(before)
    e2e = _e2e_figures()
    later = {**_e2e_figures(), "invoices_per_second": 0.8}
    assert cost.requests_per_invoice(later, later_counter)["total"] == 13.0  # two runs counted, not three
    assert cost.requests_per_invoice(e2e, counter)["total"] == 6.5
    later["aws_requests_per_invoice"] = cost.requests_per_invoice(later, later_counter)
    later["cost_per_1000_invoices"] = cost.per_thousand(later, later_counter)
    built = {
        "end_to_end": {**e2e, "later_sync": later},
        "aws_requests_per_invoice": cost.requests_per_invoice(e2e, counter),
        "cost_per_1000_invoices": cost.per_thousand(e2e, counter),
        "cold_imports": {"worst": {"function": "RenderFunction", "ratio": 1.5},
                         "consent": {"function": "ConsentFunction", "ratio": 1.2}},
        "layer": {"unzipped_mb": 90.0},
    }
    goals = {row[0]: row for row in report.goal_rows(built)}
    assert goals["AWS requests per invoice, all functions"][1] == "6.5"
    assert goals[f"AWS requests per invoice, all functions{report.LATER}"][1] == "13.0"
    assert goals[f"end-to-end pipeline vs the sync step alone (time per invoice){report.LATER}"][1] == "1.25×"
    assert goals[f"end-to-end pipeline vs the sync step alone (time per invoice){report.LATER}"][3] == "yes"
    assert report.request_rows(built, later=True)[0][:2] == ("RenderFunction", "12.0")


def test_every_lambda_handler_module_is_benchmarked():
    names = {d.name for d in handler_dirs()}
    assert {"admin_api", "render", "dispatch", "sync_integration", "poll_invoices"} <= names


def test_readme_section_is_appended_once_then_replaced():
    original = "# invoice-bridge\n\n## Layout\ntext\n"
    first = report.replace_readme_section(original, "## Benchmarks\nold table\n")
    assert first == "# invoice-bridge\n\n## Layout\ntext\n\n## Benchmarks\nold table\n"
    second = report.replace_readme_section(first, "## Benchmarks\nnew table\n")
    assert second == "# invoice-bridge\n\n## Layout\ntext\n\n## Benchmarks\nnew table\n"


def test_cold_import_split_sums_self_times_per_package():
    from bench.cold_imports import split_importtime

    report = "\n".join([
        "import time: self [us] | cumulative | imported package",
        "import time:      2000 |       2000 |     botocore.session",
        "import time:      1000 |       3000 |   boto3",
        "import time:      4000 |       4000 |       pydantic._internal",
        "import time:       500 |       4500 |     pydantic",
        "import time:      1500 |       1500 |     invoice_bridge.models.integration",
        "import time:       700 |       700 |     invoice_bridge.models",
        "import time:       300 |       300 |   jwt",
        "import time:       100 |      9000 | app",
    ])
    split = split_importtime(report, top=2)
    assert split == {
        "total_ms": 10.1,
        "baseline_packages_ms": 3.0,
        "heaviest": {"pydantic": 4.5, "invoice_bridge.models": 2.2},
        "other_ms": 0.4,
    }
