"""The sandbox's IAM policy evaluation: the rules AWS documents for identity policies."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.iam.policy import PolicyError, PolicySet, Request, context_of

TABLE = "arn:aws:dynamodb:eu-north-1:123456789012:table/Table"
KEY = "arn:aws:kms:eu-north-1:123456789012:key/k1"


def policy(*statements: dict[str, Any]) -> PolicySet:
    return PolicySet.parse([("test", {"Statement": list(statements)})])


def allow(action: Any, resource: Any = "*", condition: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
    if condition:
        statement["Condition"] = condition
    return statement


def request(action: str, resource: str = "*", **context: Any) -> Request:
    return Request(action, resource, context_of({k.replace("__", ":"): v for k, v in context.items()}))


def test_nothing_is_allowed_without_a_statement_that_allows_it() -> None:
    assert not policy().decide(request("s3:GetObject", "arn:aws:s3:::b/k")).allowed
    granted = policy(allow("s3:GetObject", "arn:aws:s3:::b/*"))
    assert granted.decide(request("s3:GetObject", "arn:aws:s3:::b/k")).allowed
    assert not granted.decide(request("s3:PutObject", "arn:aws:s3:::b/k")).allowed
    assert not granted.decide(request("s3:GetObject", "arn:aws:s3:::other/k")).allowed


def test_an_explicit_deny_wins_over_any_allow() -> None:
    rules = policy(allow("s3:*", "*"), {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"})
    decision = rules.decide(request("s3:DeleteObject", "arn:aws:s3:::b/k"))
    assert not decision.allowed and decision.explicit_deny
    assert rules.decide(request("s3:GetObject", "arn:aws:s3:::b/k")).allowed


def test_actions_match_case_insensitively_and_resources_case_sensitively() -> None:
    rules = policy(allow("DynamoDB:get*", f"{TABLE}/index/*"))
    assert rules.decide(request("dynamodb:GetItem", f"{TABLE}/index/GSI1")).allowed
    assert not rules.decide(request("dynamodb:GetItem", TABLE)).allowed
    assert not rules.decide(request("dynamodb:GetItem", f"{TABLE.upper()}/index/GSI1")).allowed


def test_not_action_and_not_resource_allow_everything_else() -> None:
    rules = policy({"Effect": "Allow", "NotAction": "kms:*", "NotResource": "arn:aws:s3:::secret/*"})
    assert rules.decide(request("s3:GetObject", "arn:aws:s3:::open/k")).allowed
    assert not rules.decide(request("kms:Decrypt", KEY)).allowed
    assert not rules.decide(request("s3:GetObject", "arn:aws:s3:::secret/k")).allowed


def test_leading_keys_allow_only_the_listed_partition_key_prefixes() -> None:
    rules = policy(allow("dynamodb:GetItem", TABLE, {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["INTEGRATION#*", "STATE#*"]}}))
    assert rules.decide(request("dynamodb:GetItem", TABLE, dynamodb__LeadingKeys=["STATE#abc"])).allowed
    assert not rules.decide(request("dynamodb:GetItem", TABLE, dynamodb__LeadingKeys=["INVOICE#1"])).allowed
    # Every value must match: a batch with one foreign key is refused.
    assert not rules.decide(request("dynamodb:GetItem", TABLE,
                                    dynamodb__LeadingKeys=["STATE#abc", "ISSUER#1"])).allowed


def test_for_all_values_holds_without_values_and_for_any_value_does_not() -> None:
    """AWS's documented pitfall: ForAllValues on a missing key is true (a Scan has no LeadingKeys)."""
    all_values = policy(allow("dynamodb:Scan", TABLE, {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": "X#*"}}))
    any_value = policy(allow("dynamodb:Scan", TABLE, {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": "X#*"}}))
    assert all_values.decide(request("dynamodb:Scan", TABLE)).allowed
    assert not any_value.decide(request("dynamodb:Scan", TABLE)).allowed


def test_encryption_context_conditions_need_the_key_present() -> None:
    token_sets = policy(allow("kms:Decrypt", KEY, {
        "StringLike": {"kms:EncryptionContext:issuer_id": "*", "kms:EncryptionContext:integration_id": "*"},
        "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["issuer_id", "integration_id"]}}))
    token_set = {"kms__EncryptionContext:issuer_id": "i1", "kms__EncryptionContext:integration_id": "n1",
                 "kms__EncryptionContextKeys": ["integration_id", "issuer_id"]}
    assert token_sets.decide(request("kms:Decrypt", KEY, **token_set)).allowed
    credentials = {"kms__EncryptionContext:issuer_id": "i1", "kms__EncryptionContextKeys": ["issuer_id"]}
    assert not token_sets.decide(request("kms:Decrypt", KEY, **credentials)).allowed
    smuggled = {**token_set, "kms__EncryptionContext:extra": "x",
                "kms__EncryptionContextKeys": ["extra", "integration_id", "issuer_id"]}
    assert not token_sets.decide(request("kms:Decrypt", KEY, **smuggled)).allowed


def test_via_service_keeps_a_key_usable_only_through_that_service() -> None:
    rules = policy(allow("kms:GenerateDataKey", KEY, {"StringEquals": {"kms:ViaService": "s3.eu-north-1.amazonaws.com"}}))
    assert rules.decide(request("kms:GenerateDataKey", KEY, kms__ViaService="s3.eu-north-1.amazonaws.com")).allowed
    assert not rules.decide(request("kms:GenerateDataKey", KEY)).allowed  # called directly


def test_ses_from_address_and_negated_operators() -> None:
    rules = policy(allow("ses:SendEmail", "*", {"StringEquals": {"ses:FromAddress": "invoices@example.com"}}),
                   {"Effect": "Deny", "Action": "ses:SendEmail", "Resource": "*",
                    "Condition": {"StringNotLike": {"ses:Recipients": "*@example.se"}}})
    assert rules.decide(request("ses:SendEmail", ses__FromAddress="invoices@example.com",
                                ses__Recipients=["a@example.se"])).allowed
    assert not rules.decide(request("ses:SendEmail", ses__FromAddress="boss@example.com",
                                    ses__Recipients=["a@example.se"])).allowed
    denied = rules.decide(request("ses:SendEmail", ses__FromAddress="invoices@example.com",
                                  ses__Recipients=["a@elsewhere.com"]))
    assert denied.explicit_deny


def test_if_exists_bool_null_and_arn_operators() -> None:
    rules = policy(allow("s3:GetObject", "*", {
        "BoolIfExists": {"aws:SecureTransport": True},
        "Null": {"s3:prefix": "true"},
        "ArnLike": {"aws:SourceArn": "arn:aws:sns:*:123456789012:*"}}))
    base = {"aws__SourceArn": "arn:aws:sns:eu-north-1:123456789012:topic"}
    assert rules.decide(request("s3:GetObject", **base)).allowed
    assert rules.decide(request("s3:GetObject", aws__SecureTransport="true", **base)).allowed
    assert not rules.decide(request("s3:GetObject", aws__SecureTransport="false", **base)).allowed
    assert not rules.decide(request("s3:GetObject", **{"s3__prefix": "a/", **base})).allowed
    assert not rules.decide(request("s3:GetObject", aws__SourceArn="arn:aws:sns:eu-north-1:999999999999:t")).allowed


@pytest.mark.parametrize("statement", [
    allow("s3:GetObject", "*", {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}),
    allow("s3:GetObject", "arn:aws:s3:::b/*", {"StringEquals": {"s3:prefix": "${aws:username}/"}}),
    allow("s3:GetObject", {"Fn::Sub": "${DocumentsBucket.Arn}/*"}),
    {"Effect": "Allow", "Action": "s3:GetObject"},
])
def test_a_policy_the_sandbox_cannot_evaluate_faithfully_is_refused(statement: dict[str, Any]) -> None:
    with pytest.raises(PolicyError):
        policy(statement)


def test_cognito_admin_operations_are_authorized_on_the_user_pools_arn() -> None:
    """As the template grants them to the console (the session's re-check of a user's standing)."""
    from sandbox.iam.calls import authorizations
    from sandbox.iam.facts import MotoFacts

    facts = MotoFacts("123456789012", "eu-north-1")
    [admin] = authorizations("cognito-idp", "AdminGetUser", {"UserPoolId": "eu-north-1_abc", "Username": "u"}, facts)
    pool = "arn:aws:cognito-idp:eu-north-1:123456789012:userpool/eu-north-1_abc"
    assert (admin.action, admin.resource) == ("cognito-idp:AdminGetUser", pool)
    granted = policy(allow(["cognito-idp:AdminGetUser", "cognito-idp:AdminListGroupsForUser"], pool))
    assert granted.decide(admin).allowed
    assert not granted.decide(Request("cognito-idp:AdminGetUser", pool.replace("abc", "other"))).allowed
