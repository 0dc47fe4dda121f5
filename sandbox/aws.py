"""The embedded AWS: a moto server holding the template's own resources, and the function environment.

Resources come from `sandbox.template` (one source of truth). Names are deterministic (derived from the
logical ids), so a restarted stack looks the same. The function environment is each function's
Globals + own `Environment`, with Refs resolved to these local names, overlaid with local-only values.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from .template import NO_VALUE, Template, UnresolvedIntrinsic, resolve

log = logging.getLogger("sandbox.aws")

REGION = "eu-north-1"
ACCOUNT_ID = "123456789012"  # moto's default account
STACK_NAME = "invoice-bridge-local"
LOCAL_API_ID = "local"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _kebab(logical_id: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", logical_id).lower()


def bucket_name(logical_id: str) -> str:
    """S3 wants lower case: `DocumentsBucket` → `documents-bucket`."""
    return _kebab(logical_id)


def queue_name(logical_id: str, fifo: bool = False) -> str:
    return f"{logical_id}.fifo" if fifo else logical_id


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"


@dataclass
class Resources:
    """What was created, by logical id: Ref values and GetAtt values as CloudFormation would give them."""

    refs: dict[str, Any] = field(default_factory=dict)
    attrs: dict[tuple[str, str], Any] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)  # queue logical id → URL
    queue_arns: dict[str, str] = field(default_factory=dict)


class LocalAws:
    """A moto server on 127.0.0.1 plus the template's tables, queues, buckets, keys, topics."""

    def __init__(self, template: Template, host: str = "127.0.0.1", port: int = 0) -> None:
        self.template = template
        self.host = host
        self.port = port
        self.endpoint_url = ""
        self.region = REGION
        self.resources = Resources()
        self._server: Any = None
        self._saved_env: dict[str, str | None] = {}

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> str:
        from .moto_server import AtomicMotoServer

        self._server = AtomicMotoServer(self.host, self.port)
        self.endpoint_url = self._server.start()
        # Moto's backends are process-global: a stack started earlier in this process (or a test's
        # mock_aws) would otherwise leave its resources here.
        self.reset_state()
        return self.endpoint_url

    def reset_state(self) -> None:
        urllib.request.urlopen(  # noqa: S310 - local moto server
            urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST"), timeout=30
        ).close()

    def stop(self) -> None:
        self.restore_environment()
        if self._server is not None:
            self.reset_state()
            self._server.stop()
            self._server = None

    @property
    def ses_faults(self) -> Any:
        """Scripted SES SendEmail answers (moto_server.SesFaults) of this stack's moto server."""
        return self._server.ses_faults

    @property
    def sqs_batch_faults(self) -> Any:
        """SendMessageBatch entries SQS fails (sqs_faults.SqsBatchFaults), as the real service may."""
        return self._server.sqs_batch_faults

    @property
    def dynamodb_conflicts(self) -> Any:
        """DynamoDB writes refused as another transaction's (dynamodb_conflicts.DynamoDbConflicts), as the real service may."""
        return self._server.dynamodb_conflicts

    def client(self, service: str) -> Any:
        """A boto3 client bound to this moto server, whatever the process environment says."""
        return boto3.session.Session().client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint_url or None,  # None: in-process moto (`mock_aws`)
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"mode": "standard", "max_attempts": 3}),
        )

    # --- resources -----------------------------------------------------------------------------

    def create_resources(self, parameters: dict[str, Any] | None = None) -> Resources:
        """Create the template's resources; `parameters` gives values for (or overrides) its Parameters."""
        tpl = self.template
        res = self.resources
        res.refs.update(
            {
                "AWS::Region": self.region,
                "AWS::AccountId": ACCOUNT_ID,
                "AWS::StackName": STACK_NAME,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
                "ServerlessRestApi": LOCAL_API_ID,
            }
        )
        for name, spec in tpl.parameters.items():
            if "Default" in spec:
                res.refs[name] = spec["Default"]
        res.refs.update({k: v for k, v in (parameters or {}).items() if k in tpl.parameters})
        for logical_id in tpl.functions:
            res.refs[logical_id] = logical_id
            res.attrs[(logical_id, "Arn")] = (
                f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{logical_id}"
            )
        self._create_keys()
        self._create_topics()
        self._create_configuration_sets()
        self._create_user_pools()
        self._create_tables()
        self._create_queues()
        self._create_buckets()
        return res

    def _create_keys(self) -> None:
        kms = self.client("kms")
        for logical_id, props in self.template.keys.items():
            meta = kms.create_key(
                Description=str(props.get("Description", logical_id)),
                KeyUsage=props.get("KeyUsage", "ENCRYPT_DECRYPT"),
                KeySpec=props.get("KeySpec", "SYMMETRIC_DEFAULT"),
            )["KeyMetadata"]
            self.resources.refs[logical_id] = meta["KeyId"]
            self.resources.attrs[(logical_id, "Arn")] = meta["Arn"]
            self.resources.attrs[(logical_id, "KeyId")] = meta["KeyId"]
            for alias in self.template.key_aliases.get(logical_id, []):
                kms.create_alias(AliasName=self.resolve(alias), TargetKeyId=meta["KeyId"])

    def _create_topics(self) -> None:
        sns = self.client("sns")
        for logical_id in self.template.topics:
            arn = sns.create_topic(Name=logical_id)["TopicArn"]
            self.resources.refs[logical_id] = arn
            self.resources.attrs[(logical_id, "TopicArn")] = arn
            self.resources.attrs[(logical_id, "TopicName")] = logical_id

    def _create_configuration_sets(self) -> None:
        """SES configuration sets (mail names one; its event destinations need no local twin)."""
        sesv2 = self.client("sesv2")
        for logical_id, props in self.template.configuration_sets.items():
            name = str(self.resolve(props["Name"])) if "Name" in props else logical_id
            sesv2.create_configuration_set(ConfigurationSetName=name)
            self.resources.refs[logical_id] = name

    def _create_user_pools(self) -> None:
        """Cognito user pools, their app clients and groups, with the template's settings."""
        idp = self.client("cognito-idp")
        for logical_id, props in self.template.user_pools.items():
            resolved = self.resolve(props)
            args = _cognito_args(resolved, _POOL_ARGS)
            args["PoolName"] = args.pop("UserPoolName", logical_id)  # the API's name for it
            pool = idp.create_user_pool(**args)["UserPool"]
            mfa = str(resolved.get("MfaConfiguration", "OFF"))
            if mfa != "OFF":  # CloudFormation sets MFA up as SetUserPoolMfaConfig does, after creating
                enabled = resolved.get("EnabledMfas")
                idp.set_user_pool_mfa_config(
                    UserPoolId=pool["Id"],
                    MfaConfiguration=mfa,
                    SoftwareTokenMfaConfiguration={
                        "Enabled": isinstance(enabled, list) and "SOFTWARE_TOKEN_MFA" in enabled
                    },
                )
            self.resources.refs[logical_id] = pool["Id"]
            self.resources.attrs[(logical_id, "Arn")] = pool["Arn"]
            self.resources.attrs[(logical_id, "ProviderName")] = f"cognito-idp.{self.region}.amazonaws.com/{pool['Id']}"
        for logical_id, props in self.template.user_pool_clients.items():
            args = _cognito_args(self.resolve(props), _CLIENT_ARGS)
            created = idp.create_user_pool_client(**args)["UserPoolClient"]
            self.resources.refs[logical_id] = created["ClientId"]
        for logical_id, props in self.template.user_pool_groups.items():
            args = _cognito_args(self.resolve(props), ("UserPoolId", "GroupName", "Description", "Precedence"))
            idp.create_group(**args)
            self.resources.refs[logical_id] = args["GroupName"]

    def _create_tables(self) -> None:
        ddb = self.client("dynamodb")
        for logical_id, props in self.template.tables.items():
            table = create_table(ddb, logical_id, props)
            self.resources.refs[logical_id] = logical_id
            self.resources.attrs[(logical_id, "Arn")] = table["TableArn"]
            if table.get("LatestStreamArn"):
                self.resources.attrs[(logical_id, "StreamArn")] = table["LatestStreamArn"]

    def _create_queues(self) -> None:
        sqs = self.client("sqs")
        queues = self.template.queues
        # Dead-letter queues first: a source queue's RedrivePolicy needs its DLQ's ARN.
        order = sorted(queues.values(), key=lambda q: q.dead_letter_queue is not None)
        plain = (
            "DelaySeconds",
            "MaximumMessageSize",
            "MessageRetentionPeriod",
            "ReceiveMessageWaitTimeSeconds",
            "VisibilityTimeout",
            "ContentBasedDeduplication",
            "FifoQueue",
        )
        for queue in order:
            name = queue_name(queue.logical_id, queue.fifo)
            attributes = {k: _attr(v) for k, v in queue.properties.items() if k in plain}
            attributes["VisibilityTimeout"] = str(queue.visibility_timeout)
            if queue.dead_letter_queue:
                if queue.dead_letter_queue not in self.resources.queue_arns:
                    raise ValueError(
                        f"{queue.logical_id}: dead-letter queue {queue.dead_letter_queue} is not a queue"
                    )
                attributes["RedrivePolicy"] = json.dumps(
                    {
                        "deadLetterTargetArn": self.resources.queue_arns[queue.dead_letter_queue],
                        "maxReceiveCount": queue.max_receive_count,
                    }
                )
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            arn = queue_arn(name)
            self.resources.queue_urls[queue.logical_id] = url
            self.resources.queue_arns[queue.logical_id] = arn
            self.resources.refs[queue.logical_id] = url
            self.resources.attrs[(queue.logical_id, "Arn")] = arn
            self.resources.attrs[(queue.logical_id, "QueueName")] = name
            self.resources.attrs[(queue.logical_id, "QueueUrl")] = url

    def _create_buckets(self) -> None:
        s3 = self.client("s3")
        for logical_id, props in self.template.buckets.items():
            name = bucket_name(logical_id)
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region})
            block = props.get("PublicAccessBlockConfiguration")
            if block:
                s3.put_public_access_block(
                    Bucket=name, PublicAccessBlockConfiguration={k: _truthy(v) for k, v in block.items()}
                )
            encryption = props.get("BucketEncryption")
            if encryption:
                # Default encryption as the template says (SSE-KMS with its key): objects carry it, and
                # the IAM check asks the caller for the key as S3 does.
                s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=_bucket_encryption(
                    self.resolve(encryption)))
            self.resources.refs[logical_id] = name
            self.resources.attrs[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"
            self.resources.attrs[(logical_id, "DomainName")] = f"{name}.s3.amazonaws.com"
            self.resources.attrs[(logical_id, "RegionalDomainName")] = (
                f"{name}.s3.{self.region}.amazonaws.com"
            )

    def put_secret_parameters(self, values: dict[str, str]) -> None:
        """SSM SecureStrings for the secrets the functions read by parameter name (`*_PARAMETER` vars)."""
        ssm = self.client("ssm")
        for name, value in values.items():
            ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)

    def verify_sender_domains(self, addresses: list[str]) -> None:
        """Moto rejects mail from unverified senders, as SES does: verify the domains we send from."""
        sesv2 = self.client("sesv2")
        for domain in sorted({a.rsplit("@", 1)[-1] for a in addresses if "@" in a}):
            sesv2.create_email_identity(EmailIdentity=domain)

    # --- function environment ------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        return resolve(value, self.resources.refs, self.resources.attrs, self.template.conditions)

    def function_environment(self, overlay: dict[str, str]) -> dict[str, dict[str, str]]:
        """Each function's environment with Refs resolved locally; overlay values win."""
        envs: dict[str, dict[str, str]] = {}
        for logical_id, fn in self.template.functions.items():
            env: dict[str, str] = {}
            for var, raw in fn.environment.items():
                if var in overlay:
                    env[var] = overlay[var]
                    continue
                try:
                    value = self.resolve(raw)
                except UnresolvedIntrinsic as exc:
                    raise UnresolvedIntrinsic(f"{logical_id}: environment {var}: {exc}") from None
                if value is not NO_VALUE:
                    env[var] = _attr(value)
            envs[logical_id] = env
        return envs

    @staticmethod
    def union_environment(envs: dict[str, dict[str, str]]) -> dict[str, str]:
        """All handlers share one process, so their environments must agree where they overlap."""
        union: dict[str, str] = {}
        for fn, env in envs.items():
            for var, value in env.items():
                if var in union and union[var] != value:
                    raise ValueError(
                        f"environment {var} differs between functions ({fn}); one process can't hold both"
                    )
                union[var] = value
        return union

    def aws_environment(self) -> dict[str, str]:
        from .iam import PLUGIN_VARIABLE, plugin_environment
        from .step_crashes import PLUGIN as STEP_CRASHES_PLUGIN

        plugins = plugin_environment(os.environ.get(PLUGIN_VARIABLE))
        if STEP_CRASHES_PLUGIN not in plugins.split(","):
            plugins += f",{STEP_CRASHES_PLUGIN}"  # inert until a soak activates it (sandbox/step_crashes.py)
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            # Every client created from now on checks its calls against the calling function's role.
            PLUGIN_VARIABLE: plugins,
            # Moto accepts any TOTP code unless told to check it (against its one fixed secret), as Cognito does.
            "MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP": "true",
            **CREDENTIALS,
        }

    def apply_environment(self, env: dict[str, str]) -> None:
        """Put `env` into os.environ (remembering what was there) and drop cached settings/clients."""
        for var in [
            v
            for v in os.environ
            if v.startswith("AWS_ENDPOINT_URL_") or v in ("AWS_PROFILE", "AWS_SESSION_TOKEN")
        ]:
            self._saved_env.setdefault(var, os.environ.get(var))
            del os.environ[var]
        for var, value in env.items():
            self._saved_env.setdefault(var, os.environ.get(var))
            os.environ[var] = value
        _reset_wiring()

    def restore_environment(self) -> None:
        for var, value in self._saved_env.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        self._saved_env.clear()
        _reset_wiring()


def _reset_wiring() -> None:
    try:
        from invoice_bridge import wiring
    except ImportError:  # the shared package is optional for the sandbox's own tests
        return
    wiring.reset()


def _bucket_encryption(encryption: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's BucketEncryption → the S3 API's ServerSideEncryptionConfiguration."""
    rules = []
    for rule in encryption.get("ServerSideEncryptionConfiguration", []):
        default = {k: str(v) for k, v in (rule.get("ServerSideEncryptionByDefault") or {}).items()}
        entry: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": default}
        if "BucketKeyEnabled" in rule:
            entry["BucketKeyEnabled"] = _truthy(rule["BucketKeyEnabled"])
        rules.append(entry)
    return {"Rules": rules}


_POOL_ARGS = (
    "UserPoolName", "Policies", "DeletionProtection", "UsernameAttributes", "AutoVerifiedAttributes",
    "AdminCreateUserConfig", "AccountRecoverySetting",
)
_CLIENT_ARGS = (
    "UserPoolId", "ClientName", "GenerateSecret", "ExplicitAuthFlows", "PreventUserExistenceErrors",
    "EnableTokenRevocation", "ReadAttributes", "AuthSessionValidity", "AccessTokenValidity", "IdTokenValidity",
    "RefreshTokenValidity", "TokenValidityUnits",
)


def _cognito_args(props: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The CloudFormation properties that are also the API's arguments (same names), resolved values."""
    args = {name: props[name] for name in names if name in props and props[name] is not NO_VALUE}
    for name in ("GenerateSecret", "EnableTokenRevocation"):
        if name in args:
            args[name] = _truthy(args[name])
    for name in ("AuthSessionValidity", "AccessTokenValidity", "IdTokenValidity", "RefreshTokenValidity", "Precedence"):
        if name in args:
            args[name] = int(args[name])
    return args


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _attr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def create_table(ddb: Any, name: str, props: dict[str, Any]) -> dict[str, Any]:
    """Create a DynamoDB table as the template's `AWS::DynamoDB::Table` properties describe it (keys,
    indexes, billing, streams, TTL); returns its description. Tests use it too, so the table they
    run against is the template's, not a second copy of its keys."""
    args: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
    }
    billing = props.get("BillingMode", "PROVISIONED" if "ProvisionedThroughput" in props else "PAY_PER_REQUEST")
    args["BillingMode"] = billing
    if billing == "PROVISIONED":
        args["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    index_keys = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(kind):
            args[kind] = [{k: v for k, v in index.items() if k in index_keys} for index in props[kind]]
    if props.get("StreamSpecification"):
        args["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": props["StreamSpecification"]["StreamViewType"],
        }
    table: dict[str, Any] = ddb.create_table(**args)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and _truthy(ttl.get("Enabled")):
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )
    return table


def create_template_table(name: str, logical_id: str = "Table", ddb: Any = None) -> None:
    """The project template's table `logical_id`, created under `name` (in moto, for tests)."""
    from .template import load_template

    template = load_template(Path(__file__).resolve().parents[1] / "template.yaml")
    create_table(ddb or boto3.client("dynamodb"), name, template.tables[logical_id])
