"""IAM as on AWS for the embedded stack: each function may make only the calls its role allows.

See enforcement.py (who is calling), plugin.py (the check on every boto3 call), calls.py (what AWS
authorizes for a call), policy.py (how a policy decides) and roles.py (the roles of the transformed
template).
"""

from .enforcement import (
    PLUGIN,
    PLUGIN_VARIABLE,
    Authorizer,
    Denial,
    acting_as,
    current_principal,
    install,
    installed,
    running_as,
    uninstall,
)
from .policy import PolicyError

__all__ = [
    "PLUGIN",
    "PLUGIN_VARIABLE",
    "Authorizer",
    "Denial",
    "PolicyError",
    "acting_as",
    "current_principal",
    "install",
    "installed",
    "running_as",
    "uninstall",
    "plugin_environment",
    "assert_enforced",
]


def plugin_environment(current: str | None) -> str:
    """BOTOCORE_EXPERIMENTAL__PLUGINS with the sandbox's plugin added to what `current` lists."""
    plugins = [p for p in (current or "").split(",") if p.strip() and p.strip() != "DISABLED"]
    if PLUGIN not in plugins:
        plugins.append(PLUGIN)
    return ",".join(plugins)


def assert_enforced(authorizer: Authorizer, endpoint_url: str | None, region: str) -> None:
    """A call as a principal without permissions must be refused before it is sent: proves the botocore
    plugin loads (botocore swallows a plugin that fails to import)."""
    import boto3
    from botocore.exceptions import ClientError

    from .enforcement import Principal, _as
    from .facts import MotoFacts
    from .policy import PolicySet

    nobody = Authorizer({"NoPermissions": PolicySet(())}, {"NoPermissions": "sandbox-self-test"},
                        MotoFacts(authorizer.facts.account, region), log_denials=False)
    client = boto3.session.Session().client(
        "sqs", region_name=region, endpoint_url=endpoint_url,
        aws_access_key_id="testing", aws_secret_access_key="testing")
    try:
        with _as(Principal("NoPermissions", nobody)):
            client.list_queues()
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "AccessDenied":
            return
        raise
    raise RuntimeError("IAM enforcement is not active: the botocore plugin sandbox.iam.plugin did not load "
                       f"({PLUGIN_VARIABLE} must name it before clients are created)")
