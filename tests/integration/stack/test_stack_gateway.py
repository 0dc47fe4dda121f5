"""The API Gateway stand-in: real REST proxy events for a Powertools resolver, auth, binary bodies."""

from __future__ import annotations

import boto3
import httpx

from sandbox.stack import LocalStack

# A PNG header plus bytes that are not valid UTF-8: they survive only if base64 is done right.
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def test_iam_route_without_token_is_401_and_handler_not_called(stack: LocalStack) -> None:
    r = httpx.get(f"{stack.api_url}/things/t1")
    assert r.status_code == 401
    body = r.json()
    assert body["error"]["code"] == "unauthorized" and body["error"]["details"] == []


def test_iam_route_with_wrong_token_is_403(stack: LocalStack) -> None:
    r = httpx.get(f"{stack.api_url}/things/t1", headers={"Authorization": "Bearer not-the-token"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    assert stack.admin_token not in r.text


def test_iam_route_with_token_reaches_resolver_with_a_real_event(stack: LocalStack, auth: dict) -> None:
    r = httpx.get(f"{stack.api_url}/things/t1?a=1&b=2&b=3", headers={**auth, "User-Agent": "stack-test/1"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["id"] == "t1"
    assert got["query"] == {"a": "1", "b": "3"}
    assert got["multi_query"] == {"a": ["1"], "b": ["2", "3"]}
    assert got["user_agent"] == "stack-test/1"
    assert got["resource"] == "/things/{thing_id}"
    assert got["stage"] == "Prod" and got["request_id"]
    assert got["function_name"] == "ApiFunction"
    assert 0 < got["remaining_ms"] <= 10_000


def test_public_route_needs_no_token(stack: LocalStack) -> None:
    r = httpx.get(f"{stack.api_url}/public/ada")
    assert r.status_code == 200
    assert r.json() == {"hello": "ada", "greeting": "hello from eu-north-1 (123456789012)"}


def test_head_calls_get_and_drops_the_body(stack: LocalStack) -> None:
    r = httpx.head(f"{stack.api_url}/public/ada")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-type"].startswith("application/json")


def test_unknown_route_is_404_json_and_wrong_method_405(stack: LocalStack, auth: dict) -> None:
    r = httpx.get(f"{stack.api_url}/nothing/here", headers=auth)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = httpx.delete(f"{stack.api_url}/public/ada")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_binary_body_round_trip(stack: LocalStack, auth: dict) -> None:
    r = httpx.put(
        f"{stack.api_url}/things/t2/logo", content=PNG, headers={**auth, "Content-Type": "image/png"}
    )
    assert r.status_code == 204, r.text
    s3 = boto3.client("s3", endpoint_url=stack.aws_endpoint_url, region_name=stack.aws_region)
    assert s3.get_object(Bucket="bucket", Key="t2/logo")["Body"].read() == PNG
    r = httpx.get(f"{stack.api_url}/things/t2/logo", headers=auth)
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    assert r.content == PNG


def test_function_environment_is_resolved_to_local_resources(stack: LocalStack, auth: dict) -> None:
    env = httpx.get(f"{stack.api_url}/env", headers=auth).json()
    urls = stack.aws.resources.queue_urls
    assert env["TABLE_NAME"] == "Table"
    assert env["BUCKET"] == "bucket"
    assert env["WORK_QUEUE_URL"] == urls["WorkQueue"]
    assert env["WORK_QUEUE_ARN"] == "arn:aws:sqs:eu-north-1:123456789012:WorkQueue"
    assert env["SENDER_EMAIL"] == "noreply@stack-test.example"
    assert env["PUBLIC_BASE_URL"] == stack.api_url
    assert env["ADMIN_TOKEN"] == stack.admin_token
    kms = boto3.client("kms", endpoint_url=stack.aws_endpoint_url, region_name=stack.aws_region)
    assert kms.describe_key(KeyId="alias/stack-test")["KeyMetadata"]["KeyId"] == env["KEY_ID"]
    # The secret parameter exists as a SecureString.
    ssm = boto3.client("ssm", endpoint_url=stack.aws_endpoint_url, region_name=stack.aws_region)
    assert ssm.get_parameter(Name=env["SECRET_PARAMETER"])["Parameter"]["Type"] == "SecureString"


def test_tables_keep_gsi_and_ttl(stack: LocalStack) -> None:
    ddb = boto3.client("dynamodb", endpoint_url=stack.aws_endpoint_url, region_name=stack.aws_region)
    table = ddb.describe_table(TableName="Table")["Table"]
    assert [g["IndexName"] for g in table["GlobalSecondaryIndexes"]] == ["gsi1"]
    ttl = ddb.describe_time_to_live(TableName="Table")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
