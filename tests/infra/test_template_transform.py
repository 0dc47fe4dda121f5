"""Asserts the deployable shape on the CloudFormation that samtranslator generates from template.yaml:
what AWS would actually create, not what the SAM shorthand suggests."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from infra_support import FUNCTIONS, REPO

Template = dict[str, Any]

QUEUES = {
    "SyncQueue": "SyncDeadLetterQueue",
    "RenderQueue": "RenderDeadLetterQueue",
    "DispatchQueue": "DispatchDeadLetterQueue",
}
# Asynchronously invoked functions (SNS) and the dead-letter queue of their failed events.
FUNCTION_DEAD_LETTER_QUEUES = {"SesEventsFunction": "SesEventsDeadLetterQueue"}
DEAD_LETTER_QUEUES = set(QUEUES.values()) | set(FUNCTION_DEAD_LETTER_QUEUES.values())
QUEUE_CONSUMERS = {
    "SyncQueue": "SyncIntegrationFunction",
    "RenderQueue": "RenderFunction",
    "DispatchQueue": "DispatchFunction",
}

# contract.md §3 (admin, IAM) and §4 (consent, public).
ADMIN_ROUTES = {
    ("/openapi.json", "get"),
    ("/issuers", "get"),
    ("/issuers", "post"),
    ("/issuers/{id}", "get"),
    ("/issuers/{id}", "patch"),
    ("/issuers/{id}/logo", "put"),
    ("/issuers/{id}/operator", "put"),
    ("/issuers/{id}/operator", "delete"),
    ("/issuers/{id}/operator/check", "post"),
    ("/issuers/{id}/integrations", "post"),
    ("/integrations/{id}", "get"),
    ("/integrations/{id}", "patch"),
    ("/integrations/{id}", "delete"),
    ("/integrations/{id}/invite", "post"),
    ("/integrations/{id}/sync", "post"),
    ("/integrations/{id}/reconciliation", "get"),
    ("/invoices", "get"),
    ("/invoices/{id}", "get"),
    ("/invoices/{id}/retry", "post"),
    ("/invoices/{id}/release", "post"),
    ("/invoices/release", "post"),
    ("/invoices/{id}/approve", "post"),
    ("/approvals", "get"),
    ("/reports/dispatch", "get"),
    ("/failures", "get"),
}
CONSENT_ROUTES = {("/consent/{token}", "get"), ("/consent/{token}", "post"), ("/oauth/callback", "get")}
# The console: public at API Gateway, its own session check in the function (ANY: x-amazon-apigateway-any-method).
CONSOLE_ROUTES = {("/console", "get"), ("/console/sign-in", "post"), ("/console/{proxy+}", "x-amazon-apigateway-any-method")}

ENVIRONMENT_REFS = {
    "TABLE_NAME": {"Ref": "Table"},
    "DOCUMENTS_BUCKET": {"Ref": "DocumentsBucket"},
    "TOKEN_KEY_ID": {"Ref": "TokenKey"},
    "SYNC_QUEUE_URL": {"Ref": "SyncQueue"},
    "RENDER_QUEUE_URL": {"Ref": "RenderQueue"},
    "DISPATCH_QUEUE_URL": {"Ref": "DispatchQueue"},
    "SPIRIS_IDENTITY_URL": {"Ref": "SpirisIdentityUrl"},
    "SPIRIS_API_URL": {"Ref": "SpirisApiUrl"},
    "SPIRIS_CLIENT_ID": {"Ref": "SpirisClientId"},
    "SPIRIS_CLIENT_SECRET_PARAMETER": {"Ref": "SpirisClientSecretParameter"},
    "OPERATOR_URL": {"Ref": "OperatorUrl"},
    "MAVENTA_VENDOR_API_KEY_PARAMETER": {"Ref": "MaventaVendorApiKeyParameter"},
    "INEXCHANGE_URL": {"Ref": "InExchangeUrl"},
    "INEXCHANGE_PARTNER_API_KEY_PARAMETER": {"Ref": "InExchangePartnerApiKeyParameter"},
    "SENDER_EMAIL": {"Ref": "SenderEmail"},
    "SES_CONFIGURATION_SET": {"Ref": "MailConfigurationSet"},
    "POWERTOOLS_SERVICE_NAME": "invoice-bridge",
    "POWERTOOLS_METRICS_NAMESPACE": "InvoiceBridge",
    "LOG_LEVEL": {"Ref": "LogLevel"},
}


def resources(template: Template, type_: str) -> dict[str, dict[str, Any]]:
    return {rid: r for rid, r in template["Resources"].items() if r["Type"] == type_}


def props(template: Template, logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id]["Properties"]


def layer_id(template: Template, content_key: str) -> str:
    """SAM renames layers with a hash; find the one built from `content_key` (SharedLayer.zip ...)."""
    (found,) = [
        rid
        for rid, r in resources(template, "AWS::Lambda::LayerVersion").items()
        if r["Properties"]["Content"]["S3Key"] == content_key
    ]
    return found


def statements(template: Template, function: str) -> list[dict[str, Any]]:
    role_ref = props(template, function)["Role"]
    assert role_ref == {"Fn::GetAtt": [f"{function}Role", "Arn"]}
    role = props(template, f"{function}Role")
    found: list[dict[str, Any]] = []
    for policy in role.get("Policies", []):
        found.extend(policy["PolicyDocument"]["Statement"])
    return found


def actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def mentions(value: Any, logical_id: str) -> bool:
    """True when an intrinsic inside `value` references `logical_id` (Ref, GetAtt or Sub)."""
    text = json.dumps(value)
    return (
        f'{{"Ref": "{logical_id}"}}' in text
        or f'["{logical_id}", ' in text
        or f"${{{logical_id}." in text
        or f"${{{logical_id}}}" in text
    )


# ------------------------------------------------------------------ functions and layers


def test_every_function_is_arm64_python312_with_the_shared_layer(transformed: Template) -> None:
    functions = resources(transformed, "AWS::Lambda::Function")
    assert set(functions) == FUNCTIONS
    shared = layer_id(transformed, "SharedLayer.zip")
    for name, function in functions.items():
        p = function["Properties"]
        assert p["Architectures"] == ["arm64"], name
        assert p["Runtime"] == "python3.12", name
        assert p["Handler"] == "app.lambda_handler", name
        assert p["TracingConfig"] == {"Mode": "Active"}, name
        assert {"Ref": shared} in p["Layers"], name


def test_layers_are_built_for_arm64_python312_and_saxonche_is_render_only(
    transformed: Template, raw_template: Template
) -> None:
    for layer in ("SharedLayer", "ValidationLayer"):
        raw = raw_template["Resources"][layer]
        assert raw["Metadata"]["BuildArchitecture"] == "arm64", layer
        built = props(transformed, layer_id(transformed, f"{layer}.zip"))
        assert built["CompatibleArchitectures"] == ["arm64"]
        assert built["CompatibleRuntimes"] == ["python3.12"]
    assert raw_template["Resources"]["SharedLayer"]["Metadata"]["BuildMethod"] == "python3.12"
    validation = {"Ref": layer_id(transformed, "ValidationLayer.zip")}
    with_validation = {
        name
        for name, f in resources(transformed, "AWS::Lambda::Function").items()
        if validation in f["Properties"]["Layers"]
    }
    assert with_validation == {"RenderFunction"}


def test_every_function_sets_its_own_timeout_and_memory(raw_template: Template) -> None:
    for name in FUNCTIONS:
        p = raw_template["Resources"][name]["Properties"]
        assert isinstance(p["Timeout"], int) and p["Timeout"] > 0, name
        assert isinstance(p["MemorySize"], int) and p["MemorySize"] >= 128, name


def test_every_function_gets_the_shared_environment(transformed: Template) -> None:
    for name, function in resources(transformed, "AWS::Lambda::Function").items():
        variables = function["Properties"]["Environment"]["Variables"]
        for key, value in ENVIRONMENT_REFS.items():
            assert variables[key] == value, (name, key)


def test_every_function_has_a_log_group_with_retention(transformed: Template) -> None:
    groups = resources(transformed, "AWS::Logs::LogGroup").values()
    for name in FUNCTIONS:
        (group,) = [
            g for g in groups if g["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{name}}}"}
        ]
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


# ------------------------------------------------------------------ queues and triggers


def test_every_queue_redrives_to_its_dead_letter_queue_after_at_least_5_receives(
    transformed: Template,
) -> None:
    queues = resources(transformed, "AWS::SQS::Queue")
    assert set(queues) == set(QUEUES) | DEAD_LETTER_QUEUES
    for queue, dead_letter in QUEUES.items():
        redrive = queues[queue]["Properties"]["RedrivePolicy"]
        assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [dead_letter, "Arn"]}
        assert int(redrive["maxReceiveCount"]) >= 5
        assert "RedrivePolicy" not in queues[dead_letter]["Properties"]
        # The DLQ keeps messages longer than the queue, so nothing expires before a redrive.
        assert (
            queues[dead_letter]["Properties"]["MessageRetentionPeriod"]
            > queues[queue]["Properties"]["MessageRetentionPeriod"]
        )
    for dead_letter in FUNCTION_DEAD_LETTER_QUEUES.values():
        assert "RedrivePolicy" not in queues[dead_letter]["Properties"]
        assert queues[dead_letter]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    for name, queue in queues.items():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True, name


def test_every_queue_consumer_reports_batch_item_failures_and_fits_the_visibility_timeout(
    transformed: Template,
) -> None:
    mappings = resources(transformed, "AWS::Lambda::EventSourceMapping").values()
    consumed = {}
    for mapping in mappings:
        p = mapping["Properties"]
        queue = p["EventSourceArn"]["Fn::GetAtt"][0]
        function = p["FunctionName"]["Ref"]
        consumed[queue] = function
        assert p["FunctionResponseTypes"] == ["ReportBatchItemFailures"], queue
        assert 1 <= p["BatchSize"] <= 10, queue
        timeout = props(transformed, function)["Timeout"]
        visibility = props(transformed, queue)["VisibilityTimeout"]
        assert visibility >= 6 * timeout, (
            f"{queue}: visibility {visibility}s < 6 x {function} timeout {timeout}s"
        )
    assert consumed == QUEUE_CONSUMERS


def test_each_queue_consumer_may_back_off_only_its_own_messages(transformed: Template) -> None:
    changers: dict[str, set[str]] = {}
    for name in FUNCTIONS:
        for statement in statements(transformed, name):
            if "sqs:ChangeMessageVisibility" in actions(statement):
                assert actions(statement) == {"sqs:ChangeMessageVisibility"}, name
                (queue,) = [q for q in QUEUES if statement["Resource"] == {"Fn::GetAtt": [q, "Arn"]}]
                changers.setdefault(queue, set()).add(name)
    assert changers == {queue: {function} for queue, function in QUEUE_CONSUMERS.items()}


def test_the_sweeper_finds_invoices_through_the_status_and_waiting_indexes_only(transformed: Template) -> None:
    dynamodb = [s for s in statements(transformed, "SweepStuckFunction")
                if any(a.startswith("dynamodb:") for a in actions(s))]
    granted = {(action, json.dumps(s["Resource"])) for s in dynamodb for action in actions(s)}
    assert granted == {
        ("dynamodb:Query", json.dumps({"Fn::Sub": "${Table.Arn}/index/GSI2"})),
        # due after their send delay; parked notices that did not go out
        ("dynamodb:Query", json.dumps({"Fn::Sub": "${Table.Arn}/index/GSI3"})),
        ("dynamodb:GetItem", json.dumps({"Fn::GetAtt": ["Table", "Arn"]})),
        ("dynamodb:PutItem", json.dumps({"Fn::GetAtt": ["Table", "Arn"]})),
        ("dynamodb:UpdateItem", json.dumps({"Fn::GetAtt": ["Table", "Arn"]})),  # invoices and decisions only
        ("dynamodb:BatchGetItem", json.dumps({"Fn::GetAtt": ["Table", "Arn"]})),  # what GSI2 names (below)
    }
    updates = [s for s in dynamodb if "dynamodb:UpdateItem" in actions(s)]
    assert [s["Condition"] for s in updates] == [
        {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["INVOICE#*"]}},  # an invoice's moves
        {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["INTEGRATION#*"]}},  # a parked notice's claim
    ]
    assert all(actions(s) == {"dynamodb:UpdateItem"} for s in updates)
    (reads,) = [s for s in dynamodb if "dynamodb:BatchGetItem" in actions(s)]
    assert reads["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["INVOICE#*"]}}


def test_the_sync_reads_a_pages_items_in_batches_and_batch_writes_only_in_the_integrations_partitions(
    transformed: Template,
) -> None:
    """BatchWriteItem can delete as well as put, and IAM cannot tell the two apart: the sync gets it only on
    the `INTEGRATION#` partitions, where its decisions live (never on invoices, issuers or anything else)."""
    dynamodb = [s for s in statements(transformed, "SyncIntegrationFunction")
                if any(a.startswith("dynamodb:") for a in actions(s))]
    granted = {(action, json.dumps(s["Resource"]), json.dumps(s.get("Condition")))
               for s in dynamodb for action in actions(s)}
    table = json.dumps({"Fn::GetAtt": ["Table", "Arn"]})
    integrations_only = json.dumps({"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["INTEGRATION#*"]}})
    assert granted == {
        *((f"dynamodb:{action}", table, "null") for action in ("GetItem", "BatchGetItem", "PutItem", "UpdateItem")),
        ("dynamodb:BatchWriteItem", table, integrations_only),
    }


def test_stuck_invoices_alarm_on_two_sweeps_in_a_row(transformed: Template) -> None:
    alarm = props(transformed, "InvoicesStuckAlarm")
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Period"]) == ("InvoicesStuck", "Maximum", 300)
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"], alarm["Threshold"]) == (2, 2, 0)
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "invoice-bridge"}]
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_the_operators_see_a_bounded_number_of_dispatchers(transformed: Template) -> None:
    """Neither operator publishes a rate limit: the dispatch trigger caps its concurrency (issue 12.6)."""
    (dispatch,) = [
        m["Properties"] for m in resources(transformed, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"]["Ref"] == "DispatchFunction"
    ]
    assert 2 <= dispatch["ScalingConfig"]["MaximumConcurrency"] <= 10


def test_schedules_run_poll_every_5_and_tracking_every_15_minutes(transformed: Template) -> None:
    targets = {
        s["Properties"]["Target"]["Arn"]["Fn::GetAtt"][0]: s["Properties"]["ScheduleExpression"]
        for s in resources(transformed, "AWS::Scheduler::Schedule").values()
    }
    assert targets == {
        "PollInvoicesFunction": "rate(5 minutes)",
        "TrackDeliveriesFunction": "rate(15 minutes)",
        "SweepStuckFunction": "rate(5 minutes)",
    }


# ------------------------------------------------------------------ data


def test_table_has_keys_indexes_ttl_and_point_in_time_recovery(transformed: Template) -> None:
    table = props(transformed, "Table")
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["DeletionProtectionEnabled"] is True
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [
        {"AttributeName": "PK", "KeyType": "HASH"},
        {"AttributeName": "SK", "KeyType": "RANGE"},
    ]
    indexes = {
        i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in table["GlobalSecondaryIndexes"]
    }
    assert indexes == {"GSI1": ["GSI1PK", "GSI1SK"], "GSI2": ["GSI2PK", "GSI2SK"], "GSI3": ["GSI3PK", "GSI3SK"]}
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert transformed["Resources"]["Table"]["DeletionPolicy"] == "Retain"
    # The only table: dispatch's guard against a duplicate in flight is the delivery's lease in this one.
    tables = [name for name, resource in transformed["Resources"].items() if resource["Type"] == "AWS::DynamoDB::Table"]
    assert tables == ["Table"]


def test_bucket_blocks_public_access_and_is_encrypted_with_the_kms_key(transformed: Template) -> None:
    bucket = props(transformed, "DocumentsBucket")
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": ["DocumentsKey", "Arn"]},
    }
    assert rule["BucketKeyEnabled"] is True
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    for key in ("TokenKey", "DocumentsKey"):
        assert props(transformed, key)["EnableKeyRotation"] is True
        assert transformed["Resources"][key]["DeletionPolicy"] == "Retain"


def test_bucket_policy_denies_every_request_without_tls(transformed: Template) -> None:
    (policy,) = resources(transformed, "AWS::S3::BucketPolicy").values()
    assert policy["Properties"]["Bucket"] == {"Ref": "DocumentsBucket"}
    denials = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    (deny,) = denials
    assert deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert deny["Resource"] == [
        {"Fn::GetAtt": ["DocumentsBucket", "Arn"]},
        {"Fn::Sub": "${DocumentsBucket.Arn}/*"},
    ]


# ------------------------------------------------------------------ alarms


def alarm_actions_go_to_topic(alarm: dict[str, Any]) -> bool:
    return alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_every_dead_letter_queue_has_a_depth_alarm_on_the_alarm_topic(transformed: Template) -> None:
    alarms = resources(transformed, "AWS::CloudWatch::Alarm").values()
    for dead_letter in DEAD_LETTER_QUEUES:
        matching = [
            a
            for a in alarms
            if a["Properties"]["Namespace"] == "AWS/SQS"
            and a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
            and a["Properties"]["Dimensions"]
            == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letter, "QueueName"]}}]
        ]
        assert len(matching) == 1, dead_letter
        (alarm,) = matching
        assert alarm_actions_go_to_topic(alarm)
        assert alarm["Properties"]["Threshold"] == 0
        assert alarm["Properties"]["ComparisonOperator"] == "GreaterThanThreshold"


@pytest.mark.parametrize("metric", ["TransferFailed", "RefreshFailed", "IntegrationNeedsReconsent", "RenderFailed"])
def test_application_metric_alarms_match_what_powertools_emits(transformed: Template, metric: str) -> None:
    alarms = [
        a
        for a in resources(transformed, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == "InvoiceBridge" and a["Properties"]["MetricName"] == metric
    ]
    assert len(alarms) == 1, metric
    (alarm,) = alarms
    # Powertools Metrics(service="invoice-bridge") puts a `service` dimension on every metric.
    assert alarm["Properties"]["Dimensions"] == [{"Name": "service", "Value": "invoice-bridge"}]
    assert alarm["Properties"]["Statistic"] == "Sum"
    assert alarm_actions_go_to_topic(alarm)


def test_alarm_topic_mails_the_alarm_address_and_cloudwatch_can_publish(transformed: Template) -> None:
    # CloudWatch cannot publish to a topic encrypted with the AWS-managed aws/sns key.
    assert props(transformed, "AlarmTopic").get("KmsMasterKeyId") != "alias/aws/sns"
    (subscription,) = [
        s
        for s in resources(transformed, "AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == {"Ref": "AlarmTopic"}
    ]
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }


# ------------------------------------------------------------------ API


def api_operations(transformed: Template) -> dict[tuple[str, str], dict[str, Any]]:
    (api,) = resources(transformed, "AWS::ApiGateway::RestApi").values()
    paths = api["Properties"]["Body"]["paths"]
    return {(path, method): op for path, methods in paths.items() for method, op in methods.items()}


def test_admin_routes_need_iam_and_consent_routes_are_public(transformed: Template) -> None:
    operations = api_operations(transformed)
    assert set(operations) == ADMIN_ROUTES | CONSENT_ROUTES | CONSOLE_ROUTES
    for route in ADMIN_ROUTES:
        assert operations[route]["security"] == [{"AWS_IAM": []}], route
        assert mentions(operations[route]["x-amazon-apigateway-integration"]["uri"], "AdminApiFunction")
        # Invoked through the function's resource policy, not with the caller's credentials.
        assert "credentials" not in operations[route]["x-amazon-apigateway-integration"], route
    for route in CONSENT_ROUTES:
        assert operations[route]["security"] == [{"NONE": []}], route
        assert mentions(operations[route]["x-amazon-apigateway-integration"]["uri"], "ConsentFunction")
    for route in CONSOLE_ROUTES:
        assert operations[route]["security"] == [{"NONE": []}], route
        assert mentions(operations[route]["x-amazon-apigateway-integration"]["uri"], "ConsoleFunction")


def test_api_accepts_logo_images_as_binary_and_outputs_its_url(transformed: Template) -> None:
    (api,) = resources(transformed, "AWS::ApiGateway::RestApi").values()
    # PUT /issuers/{id}/logo sends the image; the console's upload form sends it inside multipart.
    assert set(api["Properties"]["Body"]["x-amazon-apigateway-binary-media-types"]) == {
        "image/png",
        "image/jpeg",
        "multipart/form-data",
    }
    assert mentions(transformed["Outputs"]["ApiUrl"]["Value"], "Api")


def test_console_users_sign_in_against_the_template_pool_with_optional_totp(
    transformed: Template, raw_template: Template
) -> None:
    (pool,) = resources(transformed, "AWS::Cognito::UserPool").values()
    pool_props = pool["Properties"]
    assert pool_props["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    assert pool_props["MfaConfiguration"] == {"Ref": "ConsoleMfa"}
    assert raw_template["Parameters"]["ConsoleMfa"]["Default"] == "ON"
    assert pool_props["EnabledMfas"]["Fn::If"][1] == ["SOFTWARE_TOKEN_MFA"]
    (client,) = resources(transformed, "AWS::Cognito::UserPoolClient").values()
    client_props = client["Properties"]
    assert client_props["GenerateSecret"] is False
    assert set(client_props["ExplicitAuthFlows"]) == {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
    assert client_props["PreventUserExistenceErrors"] == "ENABLED"
    groups = {g["Properties"]["GroupName"] for g in resources(transformed, "AWS::Cognito::UserPoolGroup").values()}
    assert groups == {"office-admins", "office-staff"}
    env = props(transformed, "ConsoleFunction")["Environment"]["Variables"]
    assert env["CONSOLE_USER_POOL_ID"] == {"Ref": "ConsoleUserPool"}
    assert env["CONSOLE_CLIENT_ID"] == {"Ref": "ConsoleUserPoolClient"}


def test_only_the_console_reads_its_users_and_only_in_its_pool(transformed: Template) -> None:
    for name in FUNCTIONS:
        cognito = [s for s in statements(transformed, name) if any(a.startswith("cognito-idp:") for a in actions(s))]
        if name != "ConsoleFunction":
            assert not cognito, name
            continue
        (statement,) = cognito
        assert actions(statement) == {"cognito-idp:AdminGetUser", "cognito-idp:AdminListGroupsForUser"}
        assert statement["Resource"] == {"Fn::GetAtt": ["ConsoleUserPool", "Arn"]}


# ------------------------------------------------------------------ least privilege
# The embedded stack runs every function with exactly these roles (sandbox/iam), so a missing grant
# fails the pipeline tests; these checks pin the shape of each grant.

# The console does what the admin API does (operator credentials, revoke), so it holds the same rights.
KMS_DIRECT = {"ConsentFunction", "AdminApiFunction", "ConsoleFunction", "SyncIntegrationFunction", "DispatchFunction"}
MAILERS = {
    "ConsentFunction",
    "AdminApiFunction",
    "ConsoleFunction",
    "SyncIntegrationFunction",
    "RenderFunction",
    "DispatchFunction",
    "TrackDeliveriesFunction",
    "SesEventsFunction",
    "SweepStuckFunction",
}
MAIL_RESOURCES = [
    {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"},
    {
        "Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}"
        ":configuration-set/${MailConfigurationSet}"
    },
]
THROUGH_S3_FOR_THE_BUCKET = {
    "StringEquals": {
        "kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"},
        "kms:EncryptionContext:aws:s3:arn": {"Fn::GetAtt": ["DocumentsBucket", "Arn"]},
    }
}
TOKEN_SET_CONTEXT = {
    "StringLike": {"kms:EncryptionContext:issuer_id": "*", "kms:EncryptionContext:integration_id": "*"},
    "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["issuer_id", "integration_id"]},
}
OPERATOR_CREDENTIALS_CONTEXT = {
    "StringLike": {"kms:EncryptionContext:issuer_id": "*"},
    "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["issuer_id"]},
}


def kms_statements(statements_: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [s for s in statements_ if any(a.startswith("kms:") for a in actions(s)) and mentions(s["Resource"], key)]


def test_documents_have_their_own_key_used_only_through_s3_for_the_bucket(transformed: Template) -> None:
    (rule,) = props(transformed, "DocumentsBucket")["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": ["DocumentsKey", "Arn"]}
    expected = {
        "AdminApiFunction": {"kms:GenerateDataKey", "kms:Decrypt"},  # logo upload; presigned document links
        "ConsoleFunction": {"kms:GenerateDataKey", "kms:Decrypt"},  # the same, from the console's pages
        "SyncIntegrationFunction": {"kms:GenerateDataKey"},
        "RenderFunction": {"kms:GenerateDataKey", "kms:Decrypt"},
        "DispatchFunction": {"kms:Decrypt"},
    }
    for name in FUNCTIONS:
        found = kms_statements(statements(transformed, name), "DocumentsKey")
        for statement in found:
            assert statement["Condition"] == THROUGH_S3_FOR_THE_BUCKET, name
        assert set().union(*(actions(s) for s in found)) == expected.get(name, set()), name


def test_the_token_key_serves_only_token_sets_credentials_and_verifiers(transformed: Template) -> None:
    users = {name for name in FUNCTIONS if kms_statements(statements(transformed, name), "TokenKey")}
    assert users == {
        "ConsentFunction",
        "AdminApiFunction",
        "ConsoleFunction",
        "SyncIntegrationFunction",
        "DispatchFunction",
        "TrackDeliveriesFunction",
    }
    sync = kms_statements(statements(transformed, "SyncIntegrationFunction"), "TokenKey")
    assert [(actions(s), s["Condition"]) for s in sync] == [({"kms:Encrypt", "kms:Decrypt"}, TOKEN_SET_CONTEXT)]
    # The tracker reads an issuer's operator credentials and stores a renewed InExchange client token
    # (after a 401) encrypted the same way. The dispatcher does the same, and, for its fresh look at Spiris
    # before sending, uses the integration's token set as the sync does (a refresh re-encrypts it).
    tracker = kms_statements(statements(transformed, "TrackDeliveriesFunction"), "TokenKey")
    assert [(actions(s), s["Condition"]) for s in tracker] == [
        ({"kms:Decrypt"}, OPERATOR_CREDENTIALS_CONTEXT), ({"kms:Encrypt"}, OPERATOR_CREDENTIALS_CONTEXT)
    ]
    dispatcher = kms_statements(statements(transformed, "DispatchFunction"), "TokenKey")
    assert [(actions(s), s["Condition"]) for s in dispatcher] == [
        ({"kms:Decrypt"}, OPERATOR_CREDENTIALS_CONTEXT), ({"kms:Encrypt"}, OPERATOR_CREDENTIALS_CONTEXT),
        ({"kms:Encrypt", "kms:Decrypt"}, TOKEN_SET_CONTEXT),
    ]


def test_the_public_consent_function_reaches_only_its_own_items_and_contexts(transformed: Template) -> None:
    found = statements(transformed, "ConsentFunction")
    table = [s for s in found if any(a.startswith("dynamodb:") for a in actions(s))]
    assert set().union(*(actions(s) for s in table)) == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
    for statement in table:
        assert statement["Resource"] == {"Fn::GetAtt": ["Table", "Arn"]}
        (prefixes,) = statement["Condition"]["ForAllValues:StringLike"].values()
        assert set(prefixes) <= {"ISSUER#*", "INTEGRATION#*", "INVITATION#*", "STATE#*"}
    reads = [s for s in table if actions(s) == {"dynamodb:GetItem"}]
    assert "ISSUER#*" not in str([s for s in table if s not in reads]), "issuers are read, never written"
    kms = kms_statements(found, "TokenKey")
    assert {tuple(sorted(actions(s))) for s in kms} == {("kms:Encrypt",), ("kms:Decrypt", "kms:Encrypt")}
    for statement in kms:
        assert "kms:EncryptionContextKeys" in statement["Condition"]["ForAllValues:StringEquals"]
    # A token set (context {issuer_id, integration_id}) is only ever encrypted here, never decrypted.
    (decrypting,) = [s for s in kms if "kms:Decrypt" in actions(s)]
    assert decrypting["Condition"]["StringEquals"] == {"kms:EncryptionContext:purpose": "pkce_verifier"}


def test_only_mailing_functions_send_mail_and_only_from_the_sender(transformed: Template) -> None:
    for name in FUNCTIONS:
        mail = [s for s in statements(transformed, name) if any(a.startswith("ses:") for a in actions(s))]
        assert bool(mail) == (name in MAILERS), name
        for statement in mail:
            assert actions(statement) == {"ses:SendEmail"}  # SES v2 SendEmail, raw content included
            # Every mail names the configuration set, and SES authorises it as a second resource.
            assert statement["Resource"] == MAIL_RESOURCES, name
            assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "SenderEmail"}}}


def test_no_inline_statement_grants_a_wildcard_action_or_an_unscoped_resource(transformed: Template) -> None:
    for name in FUNCTIONS:
        for statement in statements(transformed, name):
            assert statement["Effect"] == "Allow"
            for action in actions(statement):
                assert action != "*" and not action.endswith(":*"), (name, action)
            assert statement["Resource"] != "*", (name, statement)


def test_the_dispatch_lease_outlasts_the_run_that_wrote_it(transformed: Template) -> None:
    """An intent younger than the lease is never reconciled by another run: the run that wrote it must be
    dead when the lease runs out (lease >= the function's timeout), and a crashed run's message, back after
    the queue's visibility timeout, must find the lease run out and reconcile at once."""
    dispatch = props(transformed, "DispatchFunction")
    lease = int(dispatch["Environment"]["Variables"]["DISPATCH_LEASE_SECONDS"])
    assert lease >= dispatch["Timeout"]
    assert props(transformed, "DispatchQueue")["VisibilityTimeout"] > lease


def test_queue_senders_match_the_pipeline(transformed: Template) -> None:
    senders: dict[str, set[str]] = {queue: set() for queue in QUEUES}
    for name in FUNCTIONS:
        for statement in statements(transformed, name):
            if any(a.startswith("sqs:SendMessage") for a in actions(statement)):
                for queue in QUEUES:
                    if mentions(statement["Resource"], queue):
                        senders[queue].add(name)
    assert senders == {
        "SyncQueue": {"PollInvoicesFunction", "AdminApiFunction", "ConsoleFunction"},
        # Dispatch: the next version of an invoice its fresh look found changed at the source.
        "RenderQueue": {"SyncIntegrationFunction", "AdminApiFunction", "ConsoleFunction", "SweepStuckFunction",
                        "DispatchFunction"},
        # The tracker reroutes a failed e-invoice to the issuer's next channel with a new message.
        "DispatchQueue": {
            "RenderFunction", "AdminApiFunction", "ConsoleFunction", "SweepStuckFunction", "TrackDeliveriesFunction"
        },
    }


def test_documents_bucket_access_is_object_level_and_matches_each_role(transformed: Template) -> None:
    expected = {
        "AdminApiFunction": {"s3:GetObject", "s3:PutObject"},
        "ConsoleFunction": {"s3:GetObject", "s3:PutObject"},
        "SyncIntegrationFunction": {"s3:PutObject"},
        "RenderFunction": {"s3:GetObject", "s3:PutObject"},
        "DispatchFunction": {"s3:GetObject"},
    }
    for name in FUNCTIONS:
        granted = set()
        for statement in statements(transformed, name):
            s3_actions = {a for a in actions(statement) if a.startswith("s3:")} - {"s3:ListBucket"}
            if s3_actions:
                assert statement["Resource"] == {"Fn::Sub": "${DocumentsBucket.Arn}/*"}, name
                granted |= s3_actions
        assert granted == expected.get(name, set()), name
    # Render tells a missing logo from a forbidden one (S3 answers 403 for a missing key without it).
    listing = [s for name in FUNCTIONS for s in statements(transformed, name) if "s3:ListBucket" in actions(s)]
    assert [s["Resource"] for s in listing] == [{"Fn::GetAtt": ["DocumentsBucket", "Arn"]}]
    assert listing[0] in statements(transformed, "RenderFunction")


def test_secrets_are_readable_only_by_the_functions_that_use_them(transformed: Template) -> None:
    readers: dict[str, set[str]] = {
        "SpirisClientSecretParameter": set(),
        "MaventaVendorApiKeyParameter": set(),
        "InExchangePartnerApiKeyParameter": set(),
    }
    for name in FUNCTIONS:
        for statement in statements(transformed, name):
            if any(a.startswith("ssm:") for a in actions(statement)):
                assert actions(statement) == {"ssm:GetParameter"}, name
                for parameter in readers:
                    if mentions(statement["Resource"], parameter):
                        readers[parameter].add(name)
    assert readers == {
        # Dispatch's fresh look refreshes the integration's token when it is about to expire.
        "SpirisClientSecretParameter": {
            "ConsentFunction", "AdminApiFunction", "ConsoleFunction", "SyncIntegrationFunction", "DispatchFunction"
        },
        # The admin API and the console read both when the office sets up an operator account.
        "MaventaVendorApiKeyParameter": {
            "DispatchFunction", "TrackDeliveriesFunction", "AdminApiFunction", "ConsoleFunction"
        },
        "InExchangePartnerApiKeyParameter": {
            "DispatchFunction", "TrackDeliveriesFunction", "AdminApiFunction", "ConsoleFunction"
        },
    }


# ------------------------------------------------------------------ operations: throttling, dashboard

EMITTED_METRIC = re.compile(r"""add_metric\(\s*name=["'](?P<name>\w+)["']""")
DASHBOARD_APPLICATION_METRICS = {
    "InvoicesFetched",
    "InvoicesRendered",
    "InvoicesSent",
    "InvoicesDelivered",
    "TransferFailed",
    "SyncLagSeconds",
    "SpirisThrottled",
    "RefreshFailed",
    "IntegrationNeedsReconsent",
    "StaleIntegrations",
    "RenderFailed",
    "InvoicesStuck",
}


def emitted_metrics() -> set[str]:
    """Every metric name the shared code emits through Powertools (`metrics.add_metric(name=...)`)."""
    names: set[str] = set()
    for source in (REPO / "layers" / "shared" / "invoice_bridge").rglob("*.py"):
        names |= {m["name"] for m in EMITTED_METRIC.finditer(source.read_text())}
    return names


def stage_method_settings(transformed: Template) -> list[dict[str, Any]]:
    (stage,) = resources(transformed, "AWS::ApiGateway::Stage").values()
    return stage["Properties"]["MethodSettings"]  # type: ignore[no-any-return]


def decoded_route(resource_path: str) -> str:
    """MethodSettings' ResourcePath: a leading "/" and then the route with every "/" written "~1"."""
    assert resource_path.startswith("/~1"), resource_path
    return resource_path[1:].replace("~1", "/")


def test_public_consent_routes_are_throttled_below_the_admin_routes(transformed: Template) -> None:
    settings = stage_method_settings(transformed)
    (stage_wide,) = [s for s in settings if s["ResourcePath"] == "/*" and s["HttpMethod"] == "*"]
    consent = {
        (decoded_route(s["ResourcePath"]), s["HttpMethod"].lower()): s
        for s in settings
        if s is not stage_wide
    }
    # Exactly the public routes that take secrets (consent links, codes, passwords) have their own,
    # lower limits; the admin routes and the console's pages keep the stage-wide one.
    assert set(consent) == CONSENT_ROUTES | {("/console/sign-in", "post")}
    for route, setting in consent.items():
        assert 0 < setting["ThrottlingRateLimit"] < stage_wide["ThrottlingRateLimit"], route
        assert 0 < setting["ThrottlingBurstLimit"] < stage_wide["ThrottlingBurstLimit"], route
    # A ResourcePath that names no route would silently throttle nothing.
    routes = set(api_operations(transformed))
    assert set(consent) <= routes


def test_stale_integrations_alarm_uses_the_gauge_maximum(transformed: Template) -> None:
    (alarm,) = [
        a
        for a in resources(transformed, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == "InvoiceBridge"
        and a["Properties"]["MetricName"] == "StaleIntegrations"
    ]
    assert alarm["Properties"]["Dimensions"] == [{"Name": "service", "Value": "invoice-bridge"}]
    # A count emitted by every poll: Sum over several polls would multiply it.
    assert alarm["Properties"]["Statistic"] == "Maximum"
    assert alarm["Properties"]["Threshold"] == 0
    assert alarm["Properties"]["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm_actions_go_to_topic(alarm)


def dashboard_metrics(transformed: Template) -> list[list[Any]]:
    (dashboard,) = resources(transformed, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(body)["widgets"]  # ${...} substitutions sit inside JSON strings
    return [metric for w in widgets if w["type"] == "metric" for metric in w["properties"]["metrics"]]


def test_dashboard_shows_the_pipeline_dlqs_lag_throttling_refresh_and_staleness(
    transformed: Template,
) -> None:
    metrics_shown = dashboard_metrics(transformed)
    application = {m[1] for m in metrics_shown if m[0] == "InvoiceBridge"}
    assert application == DASHBOARD_APPLICATION_METRICS
    for metric in metrics_shown:
        if metric[0] == "InvoiceBridge":
            assert metric[2:4] == ["service", "invoice-bridge"], metric
    dead_letter_queues = {
        m[3] for m in metrics_shown if m[0] == "AWS/SQS" and m[1] == "ApproximateNumberOfMessagesVisible"
    }
    assert dead_letter_queues == {f"${{{dlq}.QueueName}}" for dlq in DEAD_LETTER_QUEUES}


def test_every_dashboard_and_alarm_metric_is_emitted_by_the_code(transformed: Template) -> None:
    emitted = emitted_metrics()
    shown = {m[1] for m in dashboard_metrics(transformed) if m[0] == "InvoiceBridge"}
    alarmed = {
        a["Properties"]["MetricName"]
        for a in resources(transformed, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == "InvoiceBridge"
    }
    assert shown - emitted == set()
    assert alarmed - emitted == set()


# ------------------------------------------------------------------ SES events (bounce, complaint, delivery)

SES_PRINCIPAL = {"Service": "ses.amazonaws.com"}
SAME_ACCOUNT = {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_mail_configuration_set_sends_bounces_complaints_deliveries_and_rejects_to_the_topic(
    transformed: Template,
) -> None:
    (destination,) = resources(transformed, "AWS::SES::ConfigurationSetEventDestination").values()
    assert destination["Properties"]["ConfigurationSetName"] == {"Ref": "MailConfigurationSet"}
    event_destination = destination["Properties"]["EventDestination"]
    assert event_destination["Enabled"] is True
    assert set(event_destination["MatchingEventTypes"]) == {"bounce", "complaint", "delivery", "reject"}
    assert event_destination["SnsDestination"] == {"TopicARN": {"Ref": "SesEventsTopic"}}
    # SES must be allowed to publish before the destination exists.
    assert "SesEventsTopicPolicy" in destination["DependsOn"]


def test_ses_events_topic_is_encrypted_with_a_key_ses_may_use_from_this_account_only(
    transformed: Template,
) -> None:
    # Not the AWS-managed aws/sns key: SES could not publish to that.
    assert props(transformed, "SesEventsTopic")["KmsMasterKeyId"] == {"Ref": "SesEventsKey"}
    key = props(transformed, "SesEventsKey")
    assert key["EnableKeyRotation"] is True
    (ses,) = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == SES_PRINCIPAL]
    assert ses["Effect"] == "Allow"
    assert set(ses["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
    assert ses["Condition"] == {"StringEquals": SAME_ACCOUNT}


def test_only_ses_of_this_account_and_configuration_set_may_publish_to_the_ses_events_topic(
    transformed: Template,
) -> None:
    (policy,) = [
        p
        for p in resources(transformed, "AWS::SNS::TopicPolicy").values()
        if p["Properties"]["Topics"] == [{"Ref": "SesEventsTopic"}]
    ]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == SES_PRINCIPAL
    assert statement["Action"] == "sns:Publish"
    assert statement["Resource"] == {"Ref": "SesEventsTopic"}
    assert statement["Condition"]["StringEquals"] == SAME_ACCOUNT
    assert mentions(statement["Condition"]["ArnLike"]["aws:SourceArn"], "MailConfigurationSet")


def test_ses_events_topic_invokes_the_ses_events_function_only(transformed: Template) -> None:
    subscriptions = [
        s["Properties"]
        for s in resources(transformed, "AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == {"Ref": "SesEventsTopic"}
    ]
    assert subscriptions == [
        {
            "Protocol": "lambda",
            "Endpoint": {"Fn::GetAtt": ["SesEventsFunction", "Arn"]},
            "TopicArn": {"Ref": "SesEventsTopic"},
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["SesEventsDeadLetterQueue", "Arn"]}},
        }
    ]
    # SNS may park undeliverable events there, and only events of this topic.
    (queue_policy,) = [
        p["Properties"]
        for p in resources(transformed, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": "SesEventsDeadLetterQueue"}]
    ]
    (statement,) = queue_policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "SesEventsTopic"}}}
    (permission,) = [
        p["Properties"]
        for p in resources(transformed, "AWS::Lambda::Permission").values()
        if p["Properties"].get("SourceArn") == {"Ref": "SesEventsTopic"}
    ]
    assert permission["Principal"] == "sns.amazonaws.com"
    assert permission["FunctionName"] == {"Ref": "SesEventsFunction"}


def test_failed_ses_events_are_parked_in_their_dead_letter_queue(transformed: Template) -> None:
    for function, dead_letter in FUNCTION_DEAD_LETTER_QUEUES.items():
        assert props(transformed, function)["DeadLetterConfig"] == {
            "TargetArn": {"Fn::GetAtt": [dead_letter, "Arn"]}
        }
        # Lambda writes to the DLQ with the function's role.
        senders = [
            s
            for s in statements(transformed, function)
            if "sqs:SendMessage" in actions(s) and mentions(s["Resource"], dead_letter)
        ]
        assert senders, function


def test_ses_events_function_reaches_only_the_table_and_mail(transformed: Template) -> None:
    granted = set()
    for statement in statements(transformed, "SesEventsFunction"):
        granted |= {a.split(":", 1)[0] for a in actions(statement)}
        if any(a.startswith("dynamodb:") for a in actions(statement)):
            assert mentions(statement["Resource"], "Table")
    assert granted == {"dynamodb", "ses", "sqs"}


def test_every_mail_goes_through_the_configuration_set_the_code_reads() -> None:
    """The template's SES_CONFIGURATION_SET is the Settings field the mailer is wired with."""
    from invoice_bridge.settings import MailSettings

    assert MailSettings(SES_CONFIGURATION_SET="mail-set").ses_configuration_set == "mail-set"
    assert MailSettings().ses_configuration_set is None
