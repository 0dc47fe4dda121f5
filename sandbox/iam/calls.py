"""What AWS authorizes for one API call: the IAM action(s), the resource ARN(s) and the request context.

`authorizations(service, operation, params, facts)` turns a boto3 call (low-level parameters, as
botocore serialises them) into `Request`s, every one of which must be allowed. Besides the call's own
action it lists the calls AWS makes on the caller's behalf with the caller's permissions:
- S3 on an SSE-KMS bucket or object: PutObject needs kms:GenerateDataKey, GetObject kms:Decrypt, on the
  object's key, with kms:ViaService s3.<region>.amazonaws.com and the bucket ARN as encryption context;
- DynamoDB TransactWriteItems / TransactGetItems: each item's own PutItem / UpdateItem / DeleteItem /
  ConditionCheckItem / GetItem on its table.
Facts that are not in the call (a table's partition key, a bucket's default encryption, an alias's
key, an object's key, SES identities) come from moto's backends, which run in this process.
Operations without a specific rule are authorized as `<prefix>:<Operation>` on "*" (fail closed: a
policy that scopes resources will not allow them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parseaddr
from typing import Any, Protocol

from .policy import Request, context_of

IAM_PREFIX = {"sesv2": "ses"}  # botocore service name → IAM action prefix, where they differ


class Facts(Protocol):
    """What the authorizer must know about resources beyond the call itself."""

    account: str
    region: str

    def partition_key(self, table: str, index: str | None) -> str | None: ...
    def bucket_kms_key(self, bucket: str) -> str | None: ...
    def object_kms_key(self, bucket: str, key: str) -> str | None: ...
    def key_arn(self, key_id: str) -> str: ...
    def sending_identity(self, address: str) -> str: ...


def _base_context(facts: Facts) -> dict[str, Any]:
    return {"aws:RequestedRegion": facts.region, "aws:SecureTransport": "true"}


def _attribute(value: Any) -> str | None:
    """A DynamoDB key attribute's value as text: {"S": "x"} → "x" (plain values as they are)."""
    if isinstance(value, Mapping):
        for kind in ("S", "N", "B"):
            if kind in value:
                return str(value[kind])
        return None
    return None if value is None else str(value)


# --- DynamoDB ------------------------------------------------------------------------------------


def _table_arn(facts: Facts, table: str, index: str | None = None) -> str:
    arn = f"arn:aws:dynamodb:{facts.region}:{facts.account}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


def _leading(facts: Facts, table: str, keys: list[Mapping[str, Any]], index: str | None = None) -> list[str]:
    attribute = facts.partition_key(table, index)
    if attribute is None:
        return []
    return [v for v in (_attribute(k.get(attribute)) for k in keys) if v is not None]


def _dynamodb_item(facts: Facts, action: str, params: Mapping[str, Any]) -> Request:
    table = str(params["TableName"])
    key = params.get("Item") if action == "PutItem" else params.get("Key")
    leading = _leading(facts, table, [key or {}])
    return Request(
        f"dynamodb:{action}",
        _table_arn(facts, table),
        context_of({**_base_context(facts), "dynamodb:LeadingKeys": leading,
                    "dynamodb:ReturnValues": params.get("ReturnValues")}),
    )


_KEY_EQUALS = re.compile(r"^\s*\(?\s*([#\w.]+)\s*=\s*(:\w+)\s*\)?\s*$")


def _query_leading_key(params: Mapping[str, Any], attribute: str | None) -> list[str]:
    """The partition-key value of a Query's key condition (`#pk = :v AND ...`)."""
    if attribute is None:
        return []
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    expression = params.get("KeyConditionExpression")
    if isinstance(expression, str):
        for clause in re.split(r"\s+AND\s+", expression, flags=re.IGNORECASE):
            found = _KEY_EQUALS.match(clause)
            if found and names.get(found.group(1), found.group(1)) == attribute:
                value = _attribute(values.get(found.group(2)))
                return [value] if value is not None else []
    legacy = (params.get("KeyConditions") or {}).get(attribute)
    if legacy and legacy.get("ComparisonOperator") == "EQ":
        return [v for v in (_attribute(x) for x in legacy.get("AttributeValueList", [])) if v is not None]
    return []


def _dynamodb(operation: str, params: Mapping[str, Any], facts: Facts) -> list[Request]:
    if operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
        return [_dynamodb_item(facts, operation, params)]
    if operation in ("Query", "Scan"):
        table, index = str(params["TableName"]), params.get("IndexName")
        context: dict[str, Any] = {**_base_context(facts), "dynamodb:Select": params.get("Select")}
        if operation == "Query":
            context["dynamodb:LeadingKeys"] = _query_leading_key(params, facts.partition_key(table, index))
        return [Request(f"dynamodb:{operation}", _table_arn(facts, table, index), context_of(context))]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return _dynamodb_batch(operation, params, facts)
    if operation in ("TransactWriteItems", "TransactGetItems"):
        return _dynamodb_transaction(params, facts)
    named = params.get("TableName")
    resource = _table_arn(facts, str(named)) if named else "*"
    return [Request(f"dynamodb:{operation}", resource, context_of(_base_context(facts)))]


def _dynamodb_batch(operation: str, params: Mapping[str, Any], facts: Facts) -> list[Request]:
    requests = []
    for table, entry in (params.get("RequestItems") or {}).items():
        if operation == "BatchGetItem":
            keys = list(entry.get("Keys", []))
        else:
            keys = [w.get("PutRequest", {}).get("Item") or w.get("DeleteRequest", {}).get("Key") or {}
                    for w in entry]
        context = {**_base_context(facts), "dynamodb:LeadingKeys": _leading(facts, table, keys)}
        requests.append(Request(f"dynamodb:{operation}", _table_arn(facts, table), context_of(context)))
    return requests


_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def _dynamodb_transaction(params: Mapping[str, Any], facts: Facts) -> list[Request]:
    requests = []
    for entry in params.get("TransactItems", []):
        for kind, item in entry.items():
            action = _TRANSACT_ACTIONS[kind]
            request = _dynamodb_item(facts, "PutItem" if action == "PutItem" else "GetItem", item)
            requests.append(Request(f"dynamodb:{action}", request.resource, request.context))
    return requests


# --- KMS -----------------------------------------------------------------------------------------


def _kms_context(facts: Facts, encryption_context: Mapping[str, str] | None, via: str | None) -> dict[str, Any]:
    context: dict[str, Any] = {**_base_context(facts), "kms:CallerAccount": facts.account, "kms:ViaService": via}
    pairs = dict(encryption_context or {})
    context["kms:EncryptionContextKeys"] = sorted(pairs)
    context.update({f"kms:EncryptionContext:{k}": str(v) for k, v in pairs.items()})
    return context_of(context)


def _kms_key_of(params: Mapping[str, Any]) -> str | None:
    key = params.get("KeyId") or params.get("DestinationKeyId")
    if key:
        return str(key)
    blob = params.get("CiphertextBlob")
    if isinstance(blob, (bytes, bytearray)) and len(blob) >= 36:
        return bytes(blob[:36]).decode("ascii", "replace")  # moto's blob starts with its key id
    return None


def _kms(operation: str, params: Mapping[str, Any], facts: Facts) -> list[Request]:
    key = _kms_key_of(params)
    resource = facts.key_arn(key) if key else "*"
    context = _kms_context(facts, params.get("EncryptionContext"), None)
    if operation == "ReEncrypt":
        source = facts.key_arn(str(params.get("SourceKeyId") or key))
        return [Request("kms:ReEncryptFrom", source, context),
                Request("kms:ReEncryptTo", resource, _kms_context(
                    facts, params.get("DestinationEncryptionContext"), None))]
    return [Request(f"kms:{operation}", resource, context)]


def via_s3(facts: Facts, action: str, key_id: str, bucket: str) -> Request:
    """The KMS call S3 makes for an SSE-KMS object, authorized as the caller (bucket key: bucket ARN)."""
    return Request(action, facts.key_arn(key_id), _kms_context(
        facts, {"aws:s3:arn": f"arn:aws:s3:::{bucket}"}, f"s3.{facts.region}.amazonaws.com"))


# --- S3 ------------------------------------------------------------------------------------------

_S3_OBJECT_ACTIONS = {
    "PutObject": "s3:PutObject", "GetObject": "s3:GetObject", "HeadObject": "s3:GetObject",
    "DeleteObject": "s3:DeleteObject", "CreateMultipartUpload": "s3:PutObject", "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject", "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "GetObjectTagging": "s3:GetObjectTagging", "PutObjectTagging": "s3:PutObjectTagging",
}
_S3_BUCKET_ACTIONS = {"ListObjects": "s3:ListBucket", "ListObjectsV2": "s3:ListBucket",
                      "ListObjectVersions": "s3:ListBucketVersions", "HeadBucket": "s3:ListBucket"}


def _s3(operation: str, params: Mapping[str, Any], facts: Facts) -> list[Request]:
    bucket = str(params.get("Bucket", ""))
    base = context_of(_base_context(facts))
    if operation == "CopyObject":
        source = params.get("CopySource")
        if isinstance(source, Mapping):
            src_bucket, src_key = str(source.get("Bucket")), str(source.get("Key"))
        else:
            src_bucket, _, src_key = str(source).lstrip("/").partition("/")
        reads = _s3("GetObject", {"Bucket": src_bucket, "Key": src_key}, facts)
        return reads + _s3("PutObject", params, facts)
    if operation in _S3_OBJECT_ACTIONS:
        key = str(params.get("Key", ""))
        action = _S3_OBJECT_ACTIONS[operation]
        if operation in ("GetObject", "HeadObject") and params.get("VersionId"):
            action = "s3:GetObjectVersion"
        requests = [Request(action, f"arn:aws:s3:::{bucket}/{key}", base)]
        return requests + _s3_kms(operation, params, facts, bucket, key)
    if operation in _S3_BUCKET_ACTIONS:
        context = context_of({**_base_context(facts), "s3:prefix": params.get("Prefix")})
        return [Request(_S3_BUCKET_ACTIONS[operation], f"arn:aws:s3:::{bucket}", context)]
    resource = f"arn:aws:s3:::{bucket}" if bucket else "*"
    return [Request(f"s3:{operation}", resource, base)]


def _s3_kms(operation: str, params: Mapping[str, Any], facts: Facts, bucket: str, key: str) -> list[Request]:
    if operation in ("PutObject", "CreateMultipartUpload", "CopyObject"):
        if params.get("ServerSideEncryption") in ("aws:kms", "aws:kms:dsse"):
            kms_key = params.get("SSEKMSKeyId") or "alias/aws/s3"
        elif params.get("ServerSideEncryption"):
            return []
        else:
            kms_key = facts.bucket_kms_key(bucket)
        return [via_s3(facts, "kms:GenerateDataKey", str(kms_key), bucket)] if kms_key else []
    if operation in ("GetObject", "UploadPart", "CompleteMultipartUpload"):
        kms_key = facts.object_kms_key(bucket, key) if operation == "GetObject" else facts.bucket_kms_key(bucket)
        action = "kms:Decrypt" if operation == "GetObject" else "kms:GenerateDataKey"
        return [via_s3(facts, action, kms_key, bucket)] if kms_key else []
    return []


# --- SQS, SES, SSM, CloudWatch -------------------------------------------------------------------

_SQS_BATCH = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
              "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}


def queue_arn_of(url_or_name: str, facts: Facts) -> str:
    """`https://sqs.../123456789012/Name` (or a moto URL, or a bare name) → the queue's ARN."""
    parts = [p for p in url_or_name.split("/") if p]
    name = parts[-1]
    account = parts[-2] if len(parts) >= 2 and parts[-2].isdigit() else facts.account
    return f"arn:aws:sqs:{facts.region}:{account}:{name}"


def _sqs(operation: str, params: Mapping[str, Any], facts: Facts) -> list[Request]:
    action = f"sqs:{_SQS_BATCH.get(operation, operation)}"
    target = params.get("QueueUrl") or params.get("QueueName")
    resource = queue_arn_of(str(target), facts) if target else "*"
    return [Request(action, resource, context_of(_base_context(facts)))]


def _raw_from(params: Mapping[str, Any]) -> str:
    raw = ((params.get("Content") or {}).get("Raw") or {}).get("Data") or (params.get("RawMessage") or {}).get("Data")
    if isinstance(raw, str):
        raw = raw.encode()
    if not raw:
        return ""
    return str(BytesHeaderParser().parsebytes(bytes(raw)).get("From", ""))


def _ses(operation: str, params: Mapping[str, Any], facts: Facts) -> list[Request]:
    source = params.get("FromEmailAddress") or params.get("Source") or _raw_from(params)
    display, address = parseaddr(str(source))
    destination = params.get("Destination") or {}
    recipients = [a for _, a in getaddresses(
        [*destination.get("ToAddresses", []), *destination.get("CcAddresses", []),
         *destination.get("BccAddresses", []), *params.get("Destinations", [])])]
    context = context_of({**_base_context(facts), "ses:FromAddress": address or None,
                          "ses:FromDisplayName": display or None, "ses:Recipients": recipients or None,
                          "ses:ApiVersion": "2" if "FromEmailAddress" in params or "Content" in params else "1"})
    arn = f"arn:aws:ses:{facts.region}:{facts.account}"
    action = f"ses:{operation}"
    if operation not in ("SendEmail", "SendRawEmail", "SendTemplatedEmail", "SendBulkEmail"):
        return [Request(action, "*", context)]
    resources = [f"{arn}:identity/{facts.sending_identity(address)}"]
    if params.get("ConfigurationSetName"):
        resources.append(f"{arn}:configuration-set/{params['ConfigurationSetName']}")
    return [Request(action, resource, context) for resource in resources]


def parameter_arn(name: str, facts: Facts) -> str:
    if name.startswith("arn:"):
        return name
    return f"arn:aws:ssm:{facts.region}:{facts.account}:parameter{'' if name.startswith('/') else '/'}{name}"


def _ssm(operation: str, params: Mapping[str, Any], facts: Facts) -> list[Request]:
    names = [params["Name"]] if "Name" in params else list(params.get("Names") or [])
    if "Path" in params:
        names = [params["Path"]]
    base = context_of(_base_context(facts))
    if not names:
        return [Request(f"ssm:{operation}", "*", base)]
    return [Request(f"ssm:{operation}", parameter_arn(str(n), facts), base) for n in names]


def _cloudwatch(operation: str, params: Mapping[str, Any], facts: Facts) -> list[Request]:
    context = context_of({**_base_context(facts), "cloudwatch:namespace": params.get("Namespace")})
    return [Request(f"cloudwatch:{operation}", "*", context)]


# Cognito user pools: an operation signed with the caller's role (the Admin* ones) is authorized on the
# user pool's ARN. The unsigned ones (sign-in and its challenges) never reach the authorizer (plugin.py).
def _cognito(operation: str, params: Mapping[str, Any], facts: Facts) -> list[Request]:
    pool = params.get("UserPoolId")
    resource = f"arn:aws:cognito-idp:{facts.region}:{facts.account}:userpool/{pool}" if pool else "*"
    return [Request(f"cognito-idp:{operation}", resource, context_of(_base_context(facts)))]


_RULES: dict[str, Callable[[str, Mapping[str, Any], Facts], list[Request]]] = {
    "dynamodb": _dynamodb, "kms": _kms, "s3": _s3, "sqs": _sqs, "sesv2": _ses, "ses": _ses,
    "ssm": _ssm, "cloudwatch": _cloudwatch, "cognito-idp": _cognito,
}


def authorizations(service: str, operation: str, params: Mapping[str, Any], facts: Facts) -> list[Request]:
    """Every authorization AWS makes for `service.operation(**params)` (botocore service name)."""
    rule = _RULES.get(service)
    if rule is not None:
        return rule(operation, params, facts)
    prefix = IAM_PREFIX.get(service, service)
    return [Request(f"{prefix}:{operation}", "*", context_of(_base_context(facts)))]
