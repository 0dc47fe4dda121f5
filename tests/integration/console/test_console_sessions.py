"""Console sessions in the template's table (moto) with the user pool as directory: a session ends at
its lifetime, after idling, and as soon as a re-check finds the user disabled or out of the office."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from invoice_bridge.adapters.cognito_console import CognitoConsoleUsers
from invoice_bridge.adapters.dynamo_console_sessions import DynamoConsoleSessions
from invoice_bridge.console.sessions import (
    SessionPolicy,
    SignedInUser,
    open_session,
    resume_session,
    session_key,
)
from moto import mock_aws

from sandbox.aws import create_template_table

POLICY = SessionPolicy(lifetime=timedelta(hours=10), idle=timedelta(minutes=60), recheck=timedelta(minutes=5))
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def pool() -> Iterator[tuple[DynamoConsoleSessions, CognitoConsoleUsers, object]]:
    with mock_aws():
        create_template_table("t")
        idp = boto3.client("cognito-idp", region_name="eu-north-1")
        pool_id = idp.create_user_pool(PoolName="console", UsernameAttributes=["email"])["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="c")["UserPoolClient"]["ClientId"]
        idp.create_group(UserPoolId=pool_id, GroupName="office-staff")
        idp.admin_create_user(UserPoolId=pool_id, Username="anna@office.example", MessageAction="SUPPRESS")
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username="anna@office.example", GroupName="office-staff")
        yield DynamoConsoleSessions("t"), CognitoConsoleUsers(pool_id, client_id), (idp, pool_id)


def _open(store: DynamoConsoleSessions) -> str:
    user = SignedInUser("anna@office.example", "sub-1", "anna@office.example", ("office-staff",))
    cookie, session = open_session(user, store, POLICY, T0)
    assert session.key == session_key(cookie) and cookie not in session.model_dump_json()
    return cookie


def test_a_session_lives_while_used_and_ends_when_idle_or_old(pool) -> None:  # type: ignore[no-untyped-def]
    store, directory, _ = pool
    cookie = _open(store)
    now = T0
    for _ in range(9):  # used every 55 minutes: never idle for an hour
        now += timedelta(minutes=55)
        assert resume_session(cookie, store, directory, POLICY, now) is not None
    assert resume_session(cookie, store, directory, POLICY, T0 + timedelta(hours=10)) is None  # its lifetime
    idle = _open(store)
    assert resume_session(idle, store, directory, POLICY, T0 + timedelta(minutes=61)) is None
    assert resume_session("not-a-session", store, directory, POLICY, T0) is None


def test_a_disabled_user_or_one_out_of_the_office_groups_loses_the_session_at_the_recheck(pool) -> None:  # type: ignore[no-untyped-def]
    store, directory, (idp, pool_id) = pool
    cookie = _open(store)
    idp.admin_disable_user(UserPoolId=pool_id, Username="anna@office.example")
    assert resume_session(cookie, store, directory, POLICY, T0 + timedelta(minutes=4)) is not None  # not yet checked
    assert resume_session(cookie, store, directory, POLICY, T0 + timedelta(minutes=6)) is None
    idp.admin_enable_user(UserPoolId=pool_id, Username="anna@office.example")
    moved = _open(store)
    idp.admin_remove_user_from_group(UserPoolId=pool_id, Username="anna@office.example", GroupName="office-staff")
    assert resume_session(moved, store, directory, POLICY, T0 + timedelta(minutes=6)) is None
