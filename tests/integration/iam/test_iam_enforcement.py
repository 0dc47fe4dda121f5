"""The embedded stack's IAM on the project's template: each function may make exactly the calls its
transformed role allows, and a refusal looks like AWS's. Resources live in moto (`mock_aws`), the code
runs under `sandbox.iam.acting_as(<function>)`, as integration tests of domain code can."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from invoice_bridge.adapters.dynamo_batch import batch_get
from invoice_bridge.adapters.dynamo_batch_reads import DynamoBatchReader
from invoice_bridge.adapters.dynamo_deliveries import DynamoDeliveryLedger
from invoice_bridge.adapters.dynamo_integrations import DynamoIntegrations
from invoice_bridge.adapters.dynamo_invoices import DynamoInvoiceRepository
from invoice_bridge.adapters.dynamo_issuers import DynamoIssuers
from invoice_bridge.adapters.dynamo_sync import DynamoDecisionStore
from invoice_bridge.adapters.inexchange import RenewingClientToken
from invoice_bridge.adapters.kms_tokens import KmsCipher, KmsOperatorCredentials
from invoice_bridge.adapters.s3_documents import S3DocumentStore
from invoice_bridge.adapters.ses_mailer import SesMailer
from invoice_bridge.adapters.sqs_queue import SqsVisibility, SqsWorkQueue
from invoice_bridge.dispatch import FailureNotifier
from invoice_bridge.fetch.decisions import SyncDecision
from invoice_bridge.fetch.parked_notices import send_waiting_parked_notices
from invoice_bridge.models.common import utcnow
from invoice_bridge.models.integration import Integration
from invoice_bridge.models.invoice import InvoiceStatus
from invoice_bridge.ports import NotFound
from invoice_bridge.sending import release_due_invoices
from invoice_bridge.stuck import SweepResult, SweepServices, sweep_stuck_invoices
from invoice_factory import make_invoice, make_issuer
from moto import mock_aws

from sandbox import iam
from sandbox.aws import LocalAws
from sandbox.iam.facts import MotoFacts
from sandbox.iam.policy import PolicySet
from sandbox.stack import LOCAL_PARAMETERS, default_template
from sandbox.template import load_template

REGION = "eu-north-1"
SENDER = LOCAL_PARAMETERS["SenderEmail"]


@dataclass
class Deployment:
    aws: LocalAws
    authorizer: iam.Authorizer
    env: dict[str, str]
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = boto3.client(service, region_name=REGION)
        return self.clients[service]

    def table(self) -> Any:
        if "table" not in self.clients:
            self.clients["table"] = boto3.resource("dynamodb", region_name=REGION).Table(self.env["TABLE_NAME"])
        return self.clients["table"]


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    """The template's resources in moto (once per module: tests use their own keys), each function's
    role resolved against them."""
    with pytest.MonkeyPatch.context() as env_patch, mock_aws():
        env_patch.setenv(iam.PLUGIN_VARIABLE, iam.plugin_environment(None))  # before any client exists
        aws = LocalAws(load_template(default_template()))
        aws.create_resources(LOCAL_PARAMETERS)
        aws.verify_sender_domains([SENDER])
        env = aws.union_environment(aws.function_environment({}))
        for name, value in env.items():
            env_patch.setenv(name, value)
        yield Deployment(aws, iam.Authorizer.for_deployment(aws, LOCAL_PARAMETERS), env)


def refused(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response  # type: ignore[no-any-return]


def mail(client: Any, sender: str = SENDER, configuration_set: str | None = None) -> Any:
    extra = {"ConfigurationSetName": configuration_set} if configuration_set else {}
    return client.send_email(FromEmailAddress=sender, Destination={"ToAddresses": ["buyer@example.se"]},
                             Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}},
                             **extra)


# --- refusals look like AWS's ---------------------------------------------------------------------


def test_a_refused_call_answers_with_the_error_aws_gives(deployment: Deployment) -> None:
    env = deployment.env
    table = deployment.table()
    with iam.acting_as("PollInvoicesFunction", deployment.authorizer):
        dynamodb = refused(lambda: table.put_item(Item={"PK": "INTEGRATION#1", "SK": "INTEGRATION"}))
        sqs = refused(lambda: deployment.client("sqs").send_message(QueueUrl=env["RENDER_QUEUE_URL"], MessageBody="{}"))
        s3 = refused(lambda: deployment.client("s3").put_object(Bucket=env["DOCUMENTS_BUCKET"], Key="a", Body=b"x"))
        kms = refused(lambda: deployment.client("kms").encrypt(KeyId=env["TOKEN_KEY_ID"], Plaintext=b"x"))
        ses = refused(lambda: mail(deployment.client("sesv2")))
        ssm = refused(lambda: deployment.client("ssm").get_parameter(Name="/invoice-bridge/maventa-vendor-api-key"))
    codes = {name: (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"])
             for name, r in {"dynamodb": dynamodb, "sqs": sqs, "s3": s3, "kms": kms, "ses": ses, "ssm": ssm}.items()}
    assert codes == {
        "dynamodb": ("AccessDeniedException", 400),
        "sqs": ("AccessDenied", 403),
        "s3": ("AccessDenied", 403),
        "kms": ("AccessDeniedException", 400),
        "ses": ("AccessDeniedException", 403),
        "ssm": ("AccessDeniedException", 400),
    }
    assert dynamodb["Error"]["Message"] == (
        "User: arn:aws:sts::123456789012:assumed-role/invoice-bridge-local-PollInvoicesFunctionRole/"
        "PollInvoicesFunction is not authorized to perform: dynamodb:PutItem on resource: "
        f"arn:aws:dynamodb:{REGION}:123456789012:table/{env['TABLE_NAME']} because no identity-based policy "
        "allows the dynamodb:PutItem action"
    )


def test_an_allowed_call_goes_through_and_nothing_is_restricted_outside_a_function(deployment: Deployment) -> None:
    env = deployment.env
    with iam.acting_as("PollInvoicesFunction", deployment.authorizer):
        deployment.client("sqs").send_message(QueueUrl=env["SYNC_QUEUE_URL"], MessageBody="{}")
    deployment.client("sqs").send_message(QueueUrl=env["RENDER_QUEUE_URL"], MessageBody="{}")  # set-up: admin
    depth = deployment.client("sqs").get_queue_attributes(
        QueueUrl=env["SYNC_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessages"])
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "1"


# --- conditions ----------------------------------------------------------------------------------


def test_the_public_consent_function_reaches_only_its_own_partition_keys(deployment: Deployment) -> None:
    table = deployment.table()
    table.put_item(Item={"PK": "INVOICE#1", "SK": "INVOICE", "buyer": "someone"})
    with iam.acting_as("ConsentFunction", deployment.authorizer):
        table.put_item(Item={"PK": "STATE#abc", "SK": "STATE"})
        assert table.get_item(Key={"PK": "STATE#abc", "SK": "STATE"})["Item"]
        table.update_item(Key={"PK": "INVITATION#h", "SK": "INVITATION"}, UpdateExpression="SET used_at = :t",
                          ExpressionAttributeValues={":t": "now"})
        refused(lambda: table.get_item(Key={"PK": "INVOICE#1", "SK": "INVOICE"}))
        refused(lambda: table.put_item(Item={"PK": "ISSUER#1", "SK": "ISSUER"}))  # issuers are only read
        refused(lambda: table.delete_item(Key={"PK": "STATE#abc", "SK": "STATE"}))
        refused(lambda: table.scan())


def test_consent_encrypts_a_token_set_but_cannot_decrypt_one(deployment: Deployment) -> None:
    cipher = KmsCipher(deployment.env["TOKEN_KEY_ID"])
    token_set = {"issuer_id": "i1", "integration_id": "n1"}
    verifier = {"purpose": "pkce_verifier", "state_hash": "h1"}
    with iam.acting_as("ConsentFunction", deployment.authorizer):
        stored = cipher.encrypt(b"tokens", token_set)
        assert cipher.decrypt(cipher.encrypt(b"verifier", verifier), verifier) == b"verifier"
        with pytest.raises(Exception, match="AccessDenied"):
            cipher.decrypt(stored, token_set)
        refused(lambda: cipher.encrypt(b"credentials", {"issuer_id": "i1"}))  # operator credentials
        refused(lambda: cipher.encrypt(b"x", {**token_set, "purpose": "pkce_verifier"}))  # no extra keys
    with iam.acting_as("SyncIntegrationFunction", deployment.authorizer):
        assert cipher.decrypt(stored, token_set) == b"tokens"


def test_the_dispatcher_reads_operator_credentials_and_token_sets_but_no_verifier(deployment: Deployment) -> None:
    """The dispatcher reads an issuer's operator credentials, and for its fresh look at Spiris before
    sending, the integration's token set (as the sync does); never an OAuth state's PKCE verifier."""
    env = deployment.env
    KmsOperatorCredentials(env["TABLE_NAME"], env["TOKEN_KEY_ID"]).save("i1", "maventa", {"api_key": "k"})
    token_set = KmsCipher(env["TOKEN_KEY_ID"]).encrypt(b"tokens", {"issuer_id": "i1", "integration_id": "n1"})
    verifier_context = {"purpose": "pkce_verifier", "state_hash": "s1"}
    verifier = KmsCipher(env["TOKEN_KEY_ID"]).encrypt(b"verifier", verifier_context)
    with iam.acting_as("DispatchFunction", deployment.authorizer):
        assert KmsOperatorCredentials(env["TABLE_NAME"], env["TOKEN_KEY_ID"]).load("i1") == ("maventa", {"api_key": "k"})
        assert KmsCipher(env["TOKEN_KEY_ID"]).decrypt(token_set, {"issuer_id": "i1", "integration_id": "n1"}) == b"tokens"
        refused(lambda: deployment.client("kms").decrypt(
            CiphertextBlob=verifier, KeyId=env["TOKEN_KEY_ID"], EncryptionContext=verifier_context))


class _Partner:
    """InExchange's partner API as far as a renewal needs it: a new client token for our id."""

    def create_client_token(self, erp_id: str) -> str:
        return f"renewed-for-{erp_id}"


@pytest.mark.parametrize("function", ["DispatchFunction", "TrackDeliveriesFunction"])
def test_the_operator_callers_store_a_renewed_inexchange_client_token(deployment: Deployment, function: str) -> None:
    """A 401 from InExchange while sending or tracking renews the issuer's client token, which is stored
    encrypted again (kms:Encrypt with the issuer's context), as the adapter does it."""
    env = deployment.env
    issuer_id = f"ix-{function}"
    KmsOperatorCredentials(env["TABLE_NAME"], env["TOKEN_KEY_ID"]).save(issuer_id, "inexchange", {"client_token": "old"})
    with iam.acting_as(function, deployment.authorizer):
        store = KmsOperatorCredentials(env["TABLE_NAME"], env["TOKEN_KEY_ID"])
        tokens = RenewingClientToken(issuer_id, "old", store, _Partner)
        assert tokens.renew("old") == f"renewed-for-{issuer_id}"
    stored = KmsOperatorCredentials(env["TABLE_NAME"], env["TOKEN_KEY_ID"]).load(issuer_id)
    assert stored is not None and stored[1]["client_token"] == f"renewed-for-{issuer_id}"


@pytest.mark.parametrize(("function", "own", "other"), [
    ("SyncIntegrationFunction", "SyncQueue", "RenderQueue"),
    ("RenderFunction", "RenderQueue", "DispatchQueue"),
    ("DispatchFunction", "DispatchQueue", "SyncQueue"),
])
def test_a_failed_record_is_backed_off_on_its_own_queue_only(
    deployment: Deployment, function: str, own: str, other: str
) -> None:
    """A record that failed for a transient reason comes back after a growing delay (backoff.py): its
    function changes the visibility of its own queue's message, and of no other queue's."""
    resources = deployment.aws.resources
    sqs = deployment.client("sqs")

    def received(queue: str) -> str:
        sqs.send_message(QueueUrl=resources.queue_urls[queue], MessageBody="{}")
        [message] = sqs.receive_message(QueueUrl=resources.queue_urls[queue], MaxNumberOfMessages=1)["Messages"]
        return str(message["ReceiptHandle"])

    own_handle, other_handle = received(own), received(other)
    with iam.acting_as(function, deployment.authorizer):
        SqsVisibility().change_visibility(resources.queue_arns[own], own_handle, 30)
        refused(lambda: SqsVisibility().change_visibility(resources.queue_arns[other], other_handle, 30))


def test_the_sweeper_finds_hands_on_and_gives_up_with_its_own_role(deployment: Deployment) -> None:
    """The sweeper's tick as its role allows it: the status and waiting indexes, the invoices and their
    deliveries, both queues, the notice of an invoice it gives up on, and a parked notice left to it."""
    env = deployment.env
    invoices, issuers = DynamoInvoiceRepository(env["TABLE_NAME"]), DynamoIssuers(env["TABLE_NAME"])
    issuers.put(make_issuer("sweep-issuer"))
    for invoice_id, status in (("sweep-q", InvoiceStatus.QUEUED), ("sweep-r", InvoiceStatus.RENDERED)):
        invoices.put(make_invoice(invoice_id, issuer_id="sweep-issuer").model_copy(update={"status": status}))

    def sweep(later: timedelta) -> SweepResult:
        services = SweepServices(
            invoices=invoices, issuers=issuers, ledger=DynamoDeliveryLedger(env["TABLE_NAME"]),
            render_queue=SqsWorkQueue(env["RENDER_QUEUE_URL"]), dispatch_queue=SqsWorkQueue(env["DISPATCH_QUEUE_URL"]),
            notifier=FailureNotifier(SesMailer(SENDER)))
        return sweep_stuck_invoices(services, now=utcnow() + later, stuck_after=timedelta(minutes=15),
                                    give_up_after=timedelta(hours=24))

    decisions = DynamoDecisionStore(env["TABLE_NAME"])
    parked = SyncDecision(source_id="sweep-src", selected=False, reason="unmappable", decided_at=utcnow(),
                          issuer_id="sweep-issuer", parked=True, notified=False)
    decisions.record("sweep-integration", parked, first_sync=False)
    told: list[str] = []

    with iam.acting_as("SweepStuckFunction", deployment.authorizer):
        release_due_invoices(invoices=invoices, dispatch_queue=SqsWorkQueue(env["DISPATCH_QUEUE_URL"]))
        assert sweep(timedelta(hours=1)).handed_on == 2
        assert sweep(timedelta(hours=25)).failed == 2
        # A parked notice that did not go out: the waiting index, the decision's claim and its settling.
        notices = send_waiting_parked_notices(decisions, issuers, lambda _, d: told.append(d.source_id), now=utcnow())
        assert notices.sent == 1 and told == ["sweep-src"]
    assert {invoices.get(i).status for i in ("sweep-q", "sweep-r")} == {InvoiceStatus.FAILED}
    assert decisions.get("sweep-integration", "sweep-src").notified is True  # type: ignore[union-attr]


def test_the_documents_key_works_only_through_s3(deployment: Deployment) -> None:
    bucket = deployment.env["DOCUMENTS_BUCKET"]
    key_arn = deployment.aws.resources.attrs[("DocumentsKey", "Arn")]
    with iam.acting_as("RenderFunction", deployment.authorizer):
        S3DocumentStore(bucket).put("i1/invoices/x/v1/invoice.pdf", b"%PDF", "application/pdf")
        assert S3DocumentStore(bucket).get("i1/invoices/x/v1/invoice.pdf") == b"%PDF"
        direct = refused(lambda: deployment.client("kms").generate_data_key(KeyId=key_arn, KeySpec="AES_256"))
    assert "kms:GenerateDataKey" in direct["Error"]["Message"]
    stored = deployment.client("s3").head_object(Bucket=bucket, Key="i1/invoices/x/v1/invoice.pdf")
    assert stored["ServerSideEncryption"] == "aws:kms" and stored["SSEKMSKeyId"] == key_arn


def test_s3_asks_the_caller_for_the_kms_key_of_an_sse_kms_object(deployment: Deployment) -> None:
    """S3 calls KMS with the caller's permissions: s3:* alone cannot write or read the documents."""
    bucket = deployment.env["DOCUMENTS_BUCKET"]
    s3_only = iam.Authorizer(
        {"S3Only": PolicySet.parse([("s3", {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})])},
        {"S3Only": "s3-only"}, MotoFacts("123456789012", REGION))
    deployment.client("s3").put_object(Bucket=bucket, Key="doc", Body=b"x")
    with iam.acting_as("S3Only", s3_only):
        written = refused(lambda: deployment.client("s3").put_object(Bucket=bucket, Key="new", Body=b"x"))
        read = refused(lambda: deployment.client("s3").get_object(Bucket=bucket, Key="doc"))
        deployment.client("s3").head_object(Bucket=bucket, Key="doc")  # metadata needs no key
    assert "perform: kms:GenerateDataKey on resource: arn:aws:kms:" in written["Error"]["Message"]
    assert "perform: kms:Decrypt on resource: arn:aws:kms:" in read["Error"]["Message"]


def test_a_missing_document_is_not_found_only_for_a_role_that_may_list_the_bucket(deployment: Deployment) -> None:
    """Without s3:ListBucket S3 answers 403 for a missing key; render treats a missing logo as none."""
    documents = S3DocumentStore(deployment.env["DOCUMENTS_BUCKET"])
    with iam.acting_as("RenderFunction", deployment.authorizer), pytest.raises(NotFound):
        documents.get("i1/logo")
    with iam.acting_as("DispatchFunction", deployment.authorizer):
        assert refused(lambda: documents.get("i1/invoices/gone/v1/invoice.pdf"))["Error"]["Code"] == "AccessDenied"


def test_mail_goes_out_only_from_the_sender_address(deployment: Deployment) -> None:
    configuration_set = deployment.env["SES_CONFIGURATION_SET"]
    with iam.acting_as("TrackDeliveriesFunction", deployment.authorizer):
        assert mail(deployment.client("sesv2"), configuration_set=configuration_set)["MessageId"]
        other = refused(lambda: mail(deployment.client("sesv2"), sender="ceo@example.com"))
    assert "ses:SendEmail on resource: arn:aws:ses:eu-north-1:123456789012:identity/example.com" in (
        other["Error"]["Message"])


def test_a_thread_started_by_a_function_runs_with_its_role(deployment: Deployment) -> None:
    outcome: dict[str, Any] = {}

    def enqueue() -> None:
        try:
            deployment.client("sqs").send_message(QueueUrl=deployment.env["RENDER_QUEUE_URL"], MessageBody="{}")
        except ClientError as exc:
            outcome["error"] = exc.response["Error"]["Code"]

    with iam.acting_as("PollInvoicesFunction", deployment.authorizer):
        worker = threading.Thread(target=enqueue)
        worker.start()
    worker.join()
    assert outcome == {"error": "AccessDenied"}


def test_unsigned_operations_are_not_iam_calls_but_signed_ones_are(deployment: Deployment) -> None:
    """Cognito's sign-in (InitiateAuth) carries its own proof (a password) and no SigV4: no role is asked,
    as in AWS; an admin call on the same pool is an IAM call like any other."""
    env = deployment.env
    cognito = deployment.client("cognito-idp")
    with iam.acting_as("PollInvoicesFunction", deployment.authorizer):
        unsigned = refused(lambda: cognito.initiate_auth(
            ClientId=env["CONSOLE_CLIENT_ID"], AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "nobody@office.example", "PASSWORD": "wrong-Passw0rd!"}))
        signed = refused(lambda: cognito.admin_get_user(UserPoolId=env["CONSOLE_USER_POOL_ID"],
                                                        Username="nobody@office.example"))
    assert unsigned["Error"]["Code"] in {"UserNotFoundException", "NotAuthorizedException"}  # Cognito's answer
    assert signed["Error"]["Code"] == "AccessDeniedException"


@pytest.mark.parametrize("function", ["RenderFunction", "DispatchFunction"])
def test_render_and_dispatch_read_a_batchs_invoices_together_and_nothing_else(
    deployment: Deployment, function: str
) -> None:
    """A batch's invoices in one BatchGetItem (invoice_bridge/batch_invoices.py), with the issuers and (for
    dispatch) the integrations their messages name; no other kind of item."""
    table_name = deployment.env["TABLE_NAME"]
    invoices, reader = DynamoInvoiceRepository(table_name), DynamoBatchReader(table_name)
    invoices.put(make_invoice("batch-inv", issuer_id="batch-issuer"))
    DynamoIssuers(table_name).put(make_issuer("batch-issuer"))
    integration_id = f"batch-int-{function}"  # the deployment outlives one parameter's run
    DynamoIntegrations(table_name).put(
        Integration(id=integration_id, issuer_id="batch-issuer", contact_name="K", contact_email="k@example.se"))
    with iam.acting_as(function, deployment.authorizer):
        assert set(invoices.get_many(["batch-inv", "batch-missing"])) == {"batch-inv"}
        read = reader.read(["batch-inv"], ["batch-issuer"], [])
        assert (set(read.invoices), set(read.issuers)) == ({"batch-inv"}, {"batch-issuer"})
        integration_read = lambda: reader.read(["batch-inv"], ["batch-issuer"], [integration_id])  # noqa: E731
        if function == "DispatchFunction":  # the fresh look's integration
            assert set(integration_read().integrations) == {integration_id}
        else:  # render reads no integration
            refused(integration_read)
        refused(lambda: batch_get(table_name, [{"PK": "INVITATION#batch", "SK": "INVITATION"}]))


def test_the_listing_functions_read_what_their_index_finds_with_their_own_role(deployment: Deployment) -> None:
    """GSI1 and GSI2 hold keys only: the poller reads the integrations, the status poller the sent invoices
    the index names, by key (BatchGetItem on their own partition keys only)."""
    table_name = deployment.env["TABLE_NAME"]
    integrations, invoices = DynamoIntegrations(table_name), DynamoInvoiceRepository(table_name)
    integrations.put(Integration(id="list-int", issuer_id="list-issuer", contact_name="K", contact_email="k@example.se"))
    invoices.put(make_invoice("list-inv", issuer_id="list-issuer").model_copy(update={"status": InvoiceStatus.SENT}))
    DynamoIssuers(table_name).put(make_issuer("list-issuer"))

    with iam.acting_as("PollInvoicesFunction", deployment.authorizer):
        assert "list-int" in {i.id for i in integrations.list()}
        refused(lambda: invoices.list(status="sent"))  # an invoice is no business of the poller's
    with iam.acting_as("TrackDeliveriesFunction", deployment.authorizer):
        assert "list-inv" in {i.id for i in invoices.list(status="sent")[0]}
        # and the page's issuers in one request
        assert set(DynamoBatchReader(table_name).read((), ["list-issuer"], ()).issuers) == {"list-issuer"}
