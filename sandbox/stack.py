"""The embedded stack (contract.md §2): moto + the Spiris and operator sandboxes + our real handlers.

with LocalStack() as stack:
    httpx.post(f"{stack.api_url}/issuers", headers={"Authorization": f"Bearer {stack.admin_token}"}, ...)
    stack.scheduler.tick()          # fire the poll schedule now
    stack.drain_until_idle(60)      # wait until every queue (incl. in flight) is empty
    stack.mail()                    # what SES "sent"
    stack.write_stack_json()        # .local/stack.json
"""

from __future__ import annotations

import collections
import json
import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from . import iam
from .aws import LocalAws
from .drainer import Drainer, InvokeHook
from .gateway import Gateway, sent_mail
from .lambdas import Handlers
from .scheduler import Scheduler
from .template import Template, load_template

log = logging.getLogger("sandbox.stack")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"
TEMPLATE_VARIABLE = "INVOICE_BRIDGE_TEMPLATE"  # another template for every stack (the IAM mutation run)
IAM_AUDIT_VARIABLE = "SANDBOX_IAM_AUDIT"  # a file: every AWS call's authorization is written there on stop
# Local values for template Parameters that have no default (explicit `parameters=` always win).
LOCAL_PARAMETERS = {
    "SenderEmail": "invoices@example.com",
    "OfficeEmail": "office@example.com",
    "AlarmEmail": "alarms@example.com",
    "SpirisClientId": "invoice-bridge-local",
    # The office (a made-up one): its name, org number and bankgiro are printed when it is the payee.
    "OfficeName": "Keeros Finans AB",
    "OfficeOrgNumber": "556998-1235",
    "OfficeBankgiro": "5050-1055",
}
# Local values that replace a template default (explicit `parameters=` still win): the seeded console
# users sign in with a password only; pass ConsoleMfa=ON to try TOTP locally.
LOCAL_OVERRIDES = {"ConsoleMfa": "OFF"}
STACK_JSON_FIELDS = (
    "api_url", "admin_token", "aws_endpoint_url", "aws_region", "spiris_url", "operator_url", "console_url",
    "console_users",
)
# The console's seeded users (contract.md §2): one per group, with passwords made at start.
CONSOLE_USERS = {"admin": ("admin@office.example", "office-admins"), "staff": ("staff@office.example", "office-staff")}


def default_template() -> Path:
    """template.yaml, or the template INVOICE_BRIDGE_TEMPLATE names."""
    return Path(os.environ.get(TEMPLATE_VARIABLE) or DEFAULT_TEMPLATE)


class SandboxMissing(RuntimeError):
    pass


def _import_sandbox(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(f"sandbox.{name}")
    except ImportError as exc:
        raise SandboxMissing(
            f"the {name} sandbox (sandbox/{name}/) could not be imported: {exc}. "
            f"Start LocalStack(sandboxes=False) to run without it."
        ) from exc


class LocalStack:
    """Start everything on 127.0.0.1 with free ports; a context manager that stops it all again.

    One at a time per process: moto's backends and os.environ are process-wide.
    """

    _running: LocalStack | None = None
    _running_lock = threading.Lock()

    def __init__(
        self,
        template_path: str | Path | None = None,
        *,
        admin_token: str | None = None,
        schedule_seconds: float | None = None,
        sandboxes: bool = True,
        run_drainer: bool = True,
        run_scheduler: bool = True,
        environment: dict[str, str] | None = None,
        parameters: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        queue_visibility_seconds: int | None = None,
        invoke_hook: InvokeHook | None = None,
        drainer_concurrency: int | None = None,
    ) -> None:
        self.template_path = Path(template_path or default_template())
        self.host = host
        self.admin_token = admin_token or secrets.token_urlsafe(32)
        self.with_sandboxes = sandboxes
        self.run_drainer = run_drainer
        self.run_scheduler = run_scheduler
        self.extra_environment = dict(environment or {})
        # Local test acceleration (soak): every queue's VisibilityTimeout becomes this many seconds, so
        # a failed record comes back (and a poison one reaches its DLQ) in seconds instead of the
        # template's 720-1800 s. None keeps the template's values.
        self.queue_visibility_seconds = queue_visibility_seconds
        self.invoke_hook = invoke_hook  # opt-in fault injection around each handler call (sandbox/faults.py)
        self.drainer_concurrency = drainer_concurrency  # pollers per queue at most; None: the drainer's default

        self.schedule_seconds = schedule_seconds

        self.template: Template = load_template(self.template_path)
        defaults = self.template_parameters_without_default()
        self.parameters = {
            **{k: v for k, v in LOCAL_PARAMETERS.items() if k in defaults},
            **{k: v for k, v in LOCAL_OVERRIDES.items() if k in self.template.parameters},
            **(parameters or {}),
        }
        self.aws = LocalAws(self.template, host=host)
        self.handlers = Handlers(self.template)
        self.gateway: Gateway | None = None
        self.drainer: Drainer | None = None
        self.scheduler: Scheduler | None = None
        self.environment: dict[str, str] = {}
        self.function_environments: dict[str, dict[str, str]] = {}
        self.api_url = ""
        self.aws_endpoint_url = ""
        self.aws_region = self.aws.region
        self.spiris_url: str | None = None
        self.operator_url: str | None = None
        self.spiris_client_id = ""
        self.console_url = ""
        self.console_users: dict[str, dict[str, str]] = {}
        self.maventa_vendor_api_key = secrets.token_urlsafe(24)
        self.authorizer: iam.Authorizer | None = None
        self.inexchange_partner_api_key = secrets.token_urlsafe(24)
        self._spiris_server: Any = None
        self._operator_server: Any = None

    def template_parameters_without_default(self) -> set[str]:
        return {name for name, spec in self.template.parameters.items() if "Default" not in spec}

    # --- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        with LocalStack._running_lock:
            if LocalStack._running is not None:
                raise RuntimeError("a LocalStack is already running in this process; stop it first")
            LocalStack._running = self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.aws_endpoint_url = self.aws.start()
        self.aws.apply_environment(self.aws.aws_environment())
        self.aws.create_resources(self.parameters)
        # Every function runs with its own role's permissions only (sandbox/iam).
        self.authorizer = iam.Authorizer.for_deployment(self.aws, self.parameters)
        if os.environ.get(IAM_AUDIT_VARIABLE):
            self.authorizer.audit = collections.Counter()
        iam.install(self.authorizer)
        iam.assert_enforced(self.authorizer, self.aws_endpoint_url, self.aws.region)
        if self.queue_visibility_seconds is not None:
            self._accelerate_queues(self.queue_visibility_seconds)

        secret_values: dict[str, str] = {
            "MAVENTA_VENDOR_API_KEY_PARAMETER": self.maventa_vendor_api_key,
            "INEXCHANGE_PARTNER_API_KEY_PARAMETER": self.inexchange_partner_api_key,
        }
        overlay: dict[str, str] = {"ADMIN_TOKEN": self.admin_token, "POWERTOOLS_TRACE_DISABLED": "true"}
        if self.with_sandboxes:
            spiris = _import_sandbox("spiris")
            operator = _import_sandbox("operator")
            self._spiris_server, self.spiris_url = spiris.serve(self.host, port=0)
            self._operator_server, self.operator_url = operator.serve(
                self.host, port=0, vendor_api_key=self.maventa_vendor_api_key,
                partner_api_key=self.inexchange_partner_api_key,
            )
            self.spiris_client_id = spiris.DEFAULT_CLIENT_ID
            secret_values["SPIRIS_CLIENT_SECRET_PARAMETER"] = spiris.DEFAULT_CLIENT_SECRET
            overlay.update(
                {
                    "SPIRIS_IDENTITY_URL": self.spiris_url,
                    "SPIRIS_API_URL": self.spiris_url,
                    "SPIRIS_CLIENT_ID": self.spiris_client_id,
                    # The sandbox serves its temporary files itself, over plain HTTP on 127.0.0.1: allowed
                    # by name, next to Spiris' own hosts (https only).
                    "SPIRIS_FILE_ORIGINS": f"https://*.vismaonline.com,{self.spiris_url}",
                    "OPERATOR_URL": self.operator_url,
                    "INEXCHANGE_URL": self.operator_url,  # the operator sandbox speaks both APIs
                }
            )

        self.gateway = Gateway(
            self.template, self.handlers, self.admin_token, self.aws_endpoint_url, host=self.host, port=0
        )
        self.api_url = self.gateway.url
        overlay["PUBLIC_BASE_URL"] = self.api_url
        overlay.update(self._console_users_seeded())
        overlay.update(self.extra_environment)

        self.function_environments = self.aws.function_environment(overlay)
        self.environment = {
            **LocalAws.union_environment(self.function_environments),
            **overlay,
            **self.aws.aws_environment(),
        }
        self.aws.apply_environment(self.environment)

        parameters = {
            value: secret_values.get(var) or secrets.token_urlsafe(24)
            for var, value in self.environment.items()
            if var.endswith("_PARAMETER") and value.startswith("/")
        }
        self.aws.put_secret_parameters(parameters)
        senders = [self.environment[v] for v in ("SENDER_EMAIL", "OFFICE_EMAIL") if v in self.environment]
        self.aws.verify_sender_domains(senders)

        self.gateway.start()
        self.drainer = Drainer(self.template, self.aws, self.handlers, invoke_hook=self.invoke_hook,
                               **({"concurrency": self.drainer_concurrency} if self.drainer_concurrency else {}))
        if self.run_drainer:
            self.drainer.start()
        self.scheduler = Scheduler(self.template, self.handlers, interval=self.schedule_seconds)
        if self.run_scheduler:
            self.scheduler.start()
        log.info("local stack up: api %s, aws %s", self.api_url, self.aws_endpoint_url)

    def _console_users_seeded(self) -> dict[str, str]:
        """The console's pool gets an admin and a staff user (random passwords); the console is told where
        moto publishes the pool's keys. Nothing when the template has no console pool."""
        pools = list(self.template.user_pools)
        if not pools:
            return {}
        pool_id = self.aws.resources.refs[pools[0]]
        idp = self.aws.client("cognito-idp")
        for role, (username, group) in CONSOLE_USERS.items():
            password = f"{secrets.token_urlsafe(18)}-Aa1"
            idp.admin_create_user(
                UserPoolId=pool_id,
                Username=username,
                MessageAction="SUPPRESS",
                UserAttributes=[{"Name": "email", "Value": username}, {"Name": "email_verified", "Value": "true"}],
            )
            idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
            self.console_users[role] = {"username": username, "password": password}
        self.console_url = f"{self.api_url}/console"
        return {"CONSOLE_JWKS_URL": f"{self.aws_endpoint_url}/{pool_id}/.well-known/jwks.json"}

    def _accelerate_queues(self, seconds: int) -> None:
        sqs = self.aws.client("sqs")
        for url in self.aws.resources.queue_urls.values():
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(seconds)})

    def stop(self) -> None:
        for part in (self.scheduler, self.drainer, self.gateway):
            if part is not None:
                try:
                    part.stop()
                except Exception:
                    log.exception("stopping %s failed", type(part).__name__)
        self.scheduler = self.drainer = self.gateway = None
        for server in (self._spiris_server, self._operator_server):
            if server is not None:
                server.shutdown()
                if hasattr(server, "server_close"):
                    server.server_close()
        self._spiris_server = self._operator_server = None
        if self.authorizer is not None:
            iam.uninstall(self.authorizer)
            if self.authorizer.audit is not None:
                self.authorizer.write_audit(os.environ[IAM_AUDIT_VARIABLE])
        self.aws.stop()
        with LocalStack._running_lock:
            if LocalStack._running is self:
                LocalStack._running = None

    # --- helpers for the demo and tests --------------------------------------------------------

    def drain_until_idle(self, timeout: float = 60.0) -> None:
        assert self.drainer is not None, "stack not started"
        self.drainer.drain_until_idle(timeout)

    def tick(self, function: str | None = None) -> dict[str, Any]:
        assert self.scheduler is not None, "stack not started"
        return self.scheduler.tick(function)

    def mail(self) -> list[dict[str, Any]]:
        return sent_mail(self.aws_endpoint_url)

    def stack_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in STACK_JSON_FIELDS}

    def write_stack_json(self, path: str | Path = ".local/stack.json") -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.stack_json(), indent=2) + "\n", encoding="utf-8")
        tmp.chmod(0o600)  # holds the admin token and the console users' passwords
        tmp.replace(target)
        return target
