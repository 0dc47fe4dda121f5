"""Read `template.yaml`, the one source of truth for the embedded stack's resources and triggers.

Everything the stack creates or wires (tables, queues and their dead-letter queues, buckets, keys,
functions with their API, SQS and schedule events) is derived from the SAM template here; nothing is
listed a second time in the sandbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# --- YAML with CloudFormation short-form intrinsics ----------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns `!Ref X` / `!GetAtt A.B` / `!Sub ...` into their long-form dicts."""


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    if tag_suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load_yaml(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


# --- The parts of the template the stack uses ---------------------------------------------------


# The resources the stack keeps as their properties, by type: the Template's field that holds them.
_KEPT_AS_PROPERTIES = {
    "AWS::DynamoDB::Table": "tables",
    "AWS::S3::Bucket": "buckets",
    "AWS::KMS::Key": "keys",
    "AWS::SNS::Topic": "topics",
    "AWS::SES::ConfigurationSet": "configuration_sets",
    "AWS::Cognito::UserPool": "user_pools",
    "AWS::Cognito::UserPoolClient": "user_pool_clients",
    "AWS::Cognito::UserPoolGroup": "user_pool_groups",
}


@dataclass(frozen=True)
class Queue:
    logical_id: str
    properties: dict[str, Any]
    visibility_timeout: int  # seconds; SQS default 30
    dead_letter_queue: str | None  # logical id of the DLQ
    max_receive_count: int | None
    fifo: bool


@dataclass(frozen=True)
class ApiEvent:
    name: str
    path: str
    method: str  # upper case; "ANY" matches every method
    auth: str | None  # "AWS_IAM" when the route needs IAM, else None


@dataclass(frozen=True)
class SqsEvent:
    name: str
    queue: str  # logical id
    batch_size: int
    report_batch_item_failures: bool
    maximum_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency; None: Lambda scales freely


@dataclass(frozen=True)
class ScheduleEvent:
    name: str
    kind: str  # "ScheduleV2" (EventBridge Scheduler) or "Schedule" (EventBridge rule)
    expression: str
    input: str | None


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_uri: str
    handler: str  # "module.function"
    timeout: int
    memory_size: int
    environment: dict[str, Any]  # Globals + own Variables, unresolved intrinsics
    api_events: tuple[ApiEvent, ...] = ()
    sqs_events: tuple[SqsEvent, ...] = ()
    schedule_events: tuple[ScheduleEvent, ...] = ()


@dataclass
class Template:
    path: Path
    raw: dict[str, Any]
    parameters: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    queues: dict[str, Queue] = field(default_factory=dict)
    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    key_aliases: dict[str, list[Any]] = field(default_factory=dict)  # key logical id → AliasName (raw)
    conditions: dict[str, Any] = field(default_factory=dict)
    topics: dict[str, dict[str, Any]] = field(default_factory=dict)
    configuration_sets: dict[str, dict[str, Any]] = field(default_factory=dict)  # SES
    user_pools: dict[str, dict[str, Any]] = field(default_factory=dict)  # Cognito
    user_pool_clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    user_pool_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    binary_media_types: tuple[str, ...] = ()

    @property
    def root(self) -> Path:
        return self.path.parent

    def parameter_defaults(self) -> dict[str, Any]:
        return {name: spec.get("Default") for name, spec in self.parameters.items() if "Default" in spec}


def logical_id_of(value: Any) -> str | None:
    """`!Ref X` or `!GetAtt X.Arn` (or a plain string) → X."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            return str(att[0] if isinstance(att, list) else str(att).split(".", 1)[0])
    return None


def _api_auth(template: dict[str, Any], globals_: dict[str, Any], event_props: dict[str, Any]) -> str | None:
    """SAM auth resolution: the event's own Authorizer, else its RestApi's (or Globals') default."""
    own = (event_props.get("Auth") or {}).get("Authorizer")
    if own is not None:
        return None if own == "NONE" else str(own)
    api_id = logical_id_of(event_props.get("RestApiId"))
    api_props: dict[str, Any] = {}
    if api_id and api_id in template.get("Resources", {}):
        api_props = template["Resources"][api_id].get("Properties", {}) or {}
    default = (api_props.get("Auth") or {}).get("DefaultAuthorizer")
    if default is None:
        default = ((globals_.get("Api") or {}).get("Auth") or {}).get("DefaultAuthorizer")
    return None if default in (None, "NONE") else str(default)


def _binary_media_types(template: dict[str, Any], globals_: dict[str, Any]) -> tuple[str, ...]:
    found: list[str] = list((globals_.get("Api") or {}).get("BinaryMediaTypes") or [])
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Api":
            found += list((resource.get("Properties") or {}).get("BinaryMediaTypes") or [])
    # SAM escapes "/" as "~1" in BinaryMediaTypes.
    return tuple(sorted({str(t).replace("~1", "/") for t in found if isinstance(t, str)}))


def load_template(path: str | Path) -> Template:
    path = Path(path).resolve()
    raw = load_yaml(path)
    globals_ = raw.get("Globals") or {}
    global_fn = globals_.get("Function") or {}
    global_env = ((global_fn.get("Environment") or {}).get("Variables")) or {}
    tpl = Template(
        path=path,
        raw=raw,
        parameters=dict(raw.get("Parameters") or {}),
        conditions=dict(raw.get("Conditions") or {}),
    )
    tpl.binary_media_types = _binary_media_types(raw, globals_)

    resources: dict[str, Any] = raw.get("Resources") or {}
    for logical_id, resource in resources.items():
        rtype = resource.get("Type")
        props = resource.get("Properties") or {}
        if rtype in _KEPT_AS_PROPERTIES:
            getattr(tpl, _KEPT_AS_PROPERTIES[rtype])[logical_id] = props
        elif rtype == "AWS::SQS::Queue":
            redrive = props.get("RedrivePolicy") or {}
            tpl.queues[logical_id] = Queue(
                logical_id=logical_id,
                properties=props,
                visibility_timeout=int(props.get("VisibilityTimeout", 30)),
                dead_letter_queue=logical_id_of(redrive.get("deadLetterTargetArn")) if redrive else None,
                max_receive_count=int(redrive["maxReceiveCount"]) if redrive else None,
                fifo=bool(props.get("FifoQueue", False)),
            )
        elif rtype == "AWS::Serverless::Function":
            tpl.functions[logical_id] = _function(raw, globals_, global_fn, global_env, logical_id, props)

    for resource in resources.values():
        if resource.get("Type") == "AWS::KMS::Alias":
            props = resource.get("Properties") or {}
            target = logical_id_of(props.get("TargetKeyId"))
            if target in tpl.keys:
                tpl.key_aliases.setdefault(target, []).append(props["AliasName"])
    return tpl


def _function(
    raw: dict[str, Any],
    globals_: dict[str, Any],
    global_fn: dict[str, Any],
    global_env: dict[str, Any],
    logical_id: str,
    props: dict[str, Any],
) -> Function:
    own_env = ((props.get("Environment") or {}).get("Variables")) or {}
    api: list[ApiEvent] = []
    sqs: list[SqsEvent] = []
    schedules: list[ScheduleEvent] = []
    for name, event in (props.get("Events") or {}).items():
        etype = event.get("Type")
        eprops = event.get("Properties") or {}
        if etype == "Api":
            api.append(
                ApiEvent(
                    name=name,
                    path=str(eprops["Path"]),
                    method=str(eprops["Method"]).upper(),
                    auth=_api_auth(raw, globals_, eprops),
                )
            )
        elif etype == "SQS":
            queue = logical_id_of(eprops["Queue"])
            if queue is None:
                raise ValueError(f"{logical_id}.{name}: SQS Queue must be !GetAtt <Queue>.Arn")
            sqs.append(
                SqsEvent(
                    name=name,
                    queue=queue,
                    batch_size=int(eprops.get("BatchSize", 10)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in (eprops.get("FunctionResponseTypes") or []),
                    maximum_concurrency=(
                        int(scaling["MaximumConcurrency"])
                        if "MaximumConcurrency" in (scaling := eprops.get("ScalingConfig") or {})
                        else None
                    ),
                )
            )
        elif etype in ("ScheduleV2", "Schedule"):
            expression = eprops.get("ScheduleExpression") if etype == "ScheduleV2" else eprops.get("Schedule")
            schedules.append(
                ScheduleEvent(name=name, kind=etype, expression=str(expression), input=eprops.get("Input"))
            )
    return Function(
        logical_id=logical_id,
        code_uri=str(props.get("CodeUri", global_fn.get("CodeUri", "."))),
        handler=str(props.get("Handler", global_fn.get("Handler", "app.lambda_handler"))),
        timeout=int(props.get("Timeout", global_fn.get("Timeout", 3))),
        memory_size=int(props.get("MemorySize", global_fn.get("MemorySize", 128))),
        environment={**global_env, **own_env},
        api_events=tuple(api),
        sqs_events=tuple(sqs),
        schedule_events=tuple(schedules),
    )


# --- Intrinsic resolution (for Environment values) ----------------------------------------------

_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class UnresolvedIntrinsic(ValueError):
    pass


NO_VALUE = object()  # AWS::NoValue: the property (here: the variable) is left out


def resolve(
    value: Any,
    refs: dict[str, Any],
    attrs: dict[tuple[str, str], Any],
    conditions: dict[str, Any] | None = None,
) -> Any:
    """Resolve Ref / GetAtt / Sub / Join / Select / If (+ Conditions) against local values.

    `refs` maps a logical id, parameter or pseudo parameter to its Ref value; `attrs` maps
    (logical id, attribute) to GetAtt values; `conditions` is the template's Conditions section.
    """
    conditions = conditions or {}

    def again(v: Any) -> Any:
        return resolve(v, refs, attrs, conditions)

    if isinstance(value, list):
        return [again(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        return {k: again(v) for k, v in value.items()}
    ((key, arg),) = value.items()
    if key == "Ref" and arg == "AWS::NoValue":
        return NO_VALUE
    if key == "Condition":
        if arg not in conditions:
            raise UnresolvedIntrinsic(f"condition {arg} is not defined")
        return bool(again(conditions[arg]))
    if key == "Fn::If":
        name, when_true, when_false = arg
        return again(when_true) if again({"Condition": name}) else again(when_false)
    if key == "Fn::Equals":
        left, right = again(arg[0]), again(arg[1])
        return str(left) == str(right)
    if key == "Fn::Not":
        return not again(arg[0])
    if key == "Fn::And":
        return all(again(a) for a in arg)
    if key == "Fn::Or":
        return any(again(a) for a in arg)
    if key == "Ref":
        if arg not in refs:
            raise UnresolvedIntrinsic(f"!Ref {arg} has no local value")
        return refs[arg]
    if key == "Fn::GetAtt":
        name, att = arg if isinstance(arg, list) else str(arg).split(".", 1)
        if (name, att) not in attrs:
            raise UnresolvedIntrinsic(f"!GetAtt {name}.{att} has no local value")
        return attrs[(name, att)]
    if key == "Fn::Sub":
        text, extra = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})
        local = {k: again(v) for k, v in extra.items()}

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in local:
                return str(local[name])
            if "." in name:
                return str(again({"Fn::GetAtt": name.split(".", 1)}))
            return str(again({"Ref": name}))

        return _SUB_VAR.sub(one, str(text)).replace("${!", "${")
    if key == "Fn::Join":
        sep, items = arg
        return str(sep).join(str(x) for x in again(items))
    if key == "Fn::Select":
        index, items = arg
        return again(items)[int(again(index))]
    return {key: again(arg)}
