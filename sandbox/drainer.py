"""SQS event source mappings, locally: pump each queue of the template into its function's handler.

A pump receives up to BatchSize messages, builds the SQS event Lambda would build, calls the handler
and deletes only the records that did not fail. Failed records stay on the queue: they come back
after the queue's visibility timeout and moto moves them to the dead-letter queue after
maxReceiveCount receives, as the template's RedrivePolicy says.

Like Lambda's event source mapping, several pollers work one queue at once, each invoking its own
instance of the function: the event source's MaximumConcurrency, capped at LOCAL_CONCURRENCY (one
process on a small machine: more instances would only queue for the CPU). A handler waiting on a slow
dependency (an operator that answers after its timeout, a retry's back-off) then no longer holds up
every other message of its queue.

AWS requires a queue's visibility timeout to be at least the function's timeout, so a message is never
seen again while a handler still works on it. A shortened local visibility timeout (the soak's) would
break that once several pollers share a queue, so the pump receives with the longer of the two. After
the invocation, as in AWS, nobody but the handler changes a record's visibility: a record the handler
reported failed comes back when the handler said (its own ChangeMessageVisibility, e.g. a backoff), or
after that receive visibility if it said nothing; so does every record of an invocation whose handler
raised. Only a crash the fault hook injects around the handler (sandbox/faults.py) stands for a Lambda
that died outside the handler's control: its records that the handler did not itself report failed are
made visible again one queue visibility timeout later (the shortened one, locally).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import iam
from .aws import REGION, LocalAws
from .iam.policy import Request
from .lambdas import Handlers
from .template import SqsEvent, Template

log = logging.getLogger("sandbox.drainer")

RECEIVE_WAIT_SECONDS = 1  # short long-poll: quick to stop, cheap when idle
LOCAL_CONCURRENCY = 3  # pollers (and function instances) per event source at most
# What Lambda's SQS event source mapping does with the function's execution role.
EVENT_SOURCE_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")


class EventSourceMappingRefused(ValueError):
    """CreateEventSourceMapping's InvalidParameterValueException: the role may not poll the queue."""


def check_event_source_permissions(pump: Pump, authorizer: iam.Authorizer | None) -> None:
    """As Lambda does when the mapping is created: the function's role must be able to poll the queue."""
    if authorizer is None:
        return
    for action in EVENT_SOURCE_ACTIONS:
        if authorizer.check(pump.function, [Request(action, pump.queue_arn)]) is not None:
            raise EventSourceMappingRefused(
                f"{pump.function} <- {pump.source.queue}: InvalidParameterValueException: The provided "
                f"execution role does not have permissions to call {action.split(':')[1]} on SQS")


@dataclass
class Pump:
    function: str
    source: SqsEvent
    queue_url: str
    queue_arn: str
    concurrency: int = 1
    visibility_seconds: int = 0  # the queue's VisibilityTimeout, read when the drainer starts
    function_timeout: int = 0  # the function's Timeout: no batch is seen again while it may still run

    @property
    def receive_visibility_seconds(self) -> int:
        return max(self.visibility_seconds, self.function_timeout)


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping delivers for these received messages."""
    records = []
    for msg in messages:
        attributes = {k: v for k, v in (msg.get("Attributes") or {}).items()}
        message_attributes = {}
        for name, attr in (msg.get("MessageAttributes") or {}).items():
            message_attributes[name] = {
                "stringValue": attr.get("StringValue"),
                "binaryValue": attr.get("BinaryValue"),
                "stringListValues": attr.get("StringListValues", []),
                "binaryListValues": attr.get("BinaryListValues", []),
                "dataType": attr.get("DataType"),
            }
        records.append(
            {
                "messageId": msg["MessageId"],
                "receiptHandle": msg["ReceiptHandle"],
                "body": msg.get("Body", ""),
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": msg.get("MD5OfBody"),
                **(
                    {"md5OfMessageAttributes": msg["MD5OfMessageAttributes"]}
                    if "MD5OfMessageAttributes" in msg
                    else {}
                ),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


def failed_message_ids(result: Any, batch_ids: list[str], report_failures: bool) -> set[str]:
    """Which records Lambda treats as failed, from the handler's return value.

    Without ReportBatchItemFailures the return value is ignored (success = whole batch done). With
    it, an identifier that is empty or not in the batch fails the whole batch, as in AWS.
    """
    if not report_failures or not isinstance(result, dict):
        return set()
    failures = result.get("batchItemFailures") or []
    ids = set()
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not ident or ident not in batch_ids:
            return set(batch_ids)
        ids.add(ident)
    return ids


# Opt-in fault injection (sandbox/faults.py): called with the pump, the received messages and
# `invoke(messages)` (runs the handler on those messages, returns its result); returns the handler's
# result or raises as a crashed invocation would. None: the handler is called directly.
InvokeHook = Callable[[Pump, list[dict[str, Any]], Callable[[list[dict[str, Any]]], Any]], Any]


class Drainer:
    def __init__(
        self,
        template: Template,
        aws: LocalAws,
        handlers: Handlers,
        invoke_hook: InvokeHook | None = None,
        concurrency: int = LOCAL_CONCURRENCY,
    ) -> None:
        self.template = template
        self.invoke_hook = invoke_hook
        self.aws = aws
        self.handlers = handlers
        self.sqs = aws.client("sqs")
        self.pumps: list[Pump] = []
        for fn in template.functions.values():
            for source in fn.sqs_events:
                pollers = min(source.maximum_concurrency or concurrency, concurrency)
                self.pumps.append(
                    Pump(
                        function=fn.logical_id,
                        source=source,
                        queue_url=aws.resources.queue_urls[source.queue],
                        queue_arn=aws.resources.queue_arns[source.queue],
                        concurrency=max(1, pollers),
                        function_timeout=fn.timeout,
                    )
                )
        for pump in self.pumps:
            check_event_source_permissions(pump, iam.installed())
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._busy_lock = threading.Lock()

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        for pump in self.pumps:
            pump.visibility_seconds = int(self.sqs.get_queue_attributes(
                QueueUrl=pump.queue_url, AttributeNames=["VisibilityTimeout"])["Attributes"]["VisibilityTimeout"])
            self.handlers.set_concurrency(pump.function, pump.concurrency)
            for n in range(pump.concurrency):
                thread = threading.Thread(
                    target=self._run, args=(pump,), name=f"pump-{pump.function}-{n}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=RECEIVE_WAIT_SECONDS + 30)
        self._threads.clear()

    def _run(self, pump: Pump) -> None:
        while not self._stop.is_set():
            try:
                self.pump_once(pump)
            except Exception:  # never let one bad batch or a moto hiccup kill the pump
                log.exception("pump %s failed; retrying", pump.function)
                self._stop.wait(1)

    # --- one batch -----------------------------------------------------------------------------

    def pump_once(self, pump: Pump, wait_seconds: int = RECEIVE_WAIT_SECONDS) -> int:
        """Receive one batch and run it through the handler; returns the number of messages received."""
        with iam.running_as(pump.function):  # the event source mapping polls with the function's role
            received = self.sqs.receive_message(
                QueueUrl=pump.queue_url,
                MaxNumberOfMessages=max(1, min(pump.source.batch_size, 10)),
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=pump.receive_visibility_seconds,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        messages = received.get("Messages", [])
        if not messages:
            return 0
        # Received messages are in flight (counted by depths()) until deleted; `_busy` covers the
        # moment after the delete while the handler's own sends settle.
        with self._busy_lock:
            self._busy += 1
        try:
            failed, crashed = self._invoke(pump, messages)
            done = [m for m in messages if m["MessageId"] not in failed]
            self._delete(pump, done)
            self._visible_after_timeout(pump, [m for m in messages if m["MessageId"] in crashed])
            if failed:
                log.warning("%s: %d of %d records failed", pump.function, len(failed), len(messages))
            return len(messages)
        finally:
            with self._busy_lock:
                self._busy -= 1

    def _invoke(self, pump: Pump, messages: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
        """Run the batch through the handler (and the fault hook). Returns the ids of the failed records,
        and of those the ones an injected crash failed without the handler's say (module docstring)."""
        batch_ids = [m["MessageId"] for m in messages]
        reported: set[str] = set()  # failed by the handler's own answer
        handler_raised = False

        def invoke(batch: list[dict[str, Any]]) -> Any:
            nonlocal reported, handler_raised
            try:
                result = self.handlers.invoke(pump.function, sqs_event(batch, pump.queue_arn))
            except Exception:
                handler_raised = True
                raise
            reported = failed_message_ids(result, [m["MessageId"] for m in batch],
                                          pump.source.report_batch_item_failures)
            return result

        try:
            result = invoke(messages) if self.invoke_hook is None else self.invoke_hook(pump, messages, invoke)
        except Exception:
            log.exception("%s raised on a batch of %d; all records return to the queue", pump.function,
                          len(messages))
            return set(batch_ids), set() if handler_raised else set(batch_ids) - reported
        return failed_message_ids(result, batch_ids, pump.source.report_batch_item_failures), set()

    def _delete(self, pump: Pump, done: list[dict[str, Any]]) -> None:
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            with iam.running_as(pump.function):  # the event source mapping deletes with the function's role
                self.sqs.delete_message_batch(
                    QueueUrl=pump.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
                )

    def _visible_after_timeout(self, pump: Pump, messages: list[dict[str, Any]]) -> None:
        """Records of an injected crash come back one queue visibility timeout from now."""
        if pump.visibility_seconds >= pump.receive_visibility_seconds:
            return  # received with the queue's own timeout already, as Lambda receives
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            with iam.running_as(pump.function):
                self.sqs.change_message_visibility_batch(QueueUrl=pump.queue_url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": pump.visibility_seconds}
                    for i, m in enumerate(chunk)])

    # --- idleness ------------------------------------------------------------------------------

    def depths(self) -> dict[str, int]:
        """Visible + in flight + delayed messages per pumped queue (logical id)."""
        out = {}
        for pump in self.pumps:
            attrs = self.sqs.get_queue_attributes(
                QueueUrl=pump.queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            out[pump.source.queue] = sum(int(v) for v in attrs.values())
        return out

    def drain_until_idle(self, timeout: float = 60.0, settle: float = 0.3) -> None:
        """Return once every pumped queue is empty (incl. in flight) and no handler is running.

        Handlers may enqueue further work (render → dispatch), so idleness must hold twice, `settle`
        seconds apart. Raises TimeoutError with the queue depths otherwise.
        """
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        depths: dict[str, int] = {}
        while time.monotonic() < deadline:
            depths = self.depths()
            with self._busy_lock:
                busy = self._busy
            idle = not any(depths.values()) and busy == 0
            if idle:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle:
                    return
            else:
                quiet_since = None
            time.sleep(0.05)
        raise TimeoutError(f"queues not idle after {timeout}s: {depths}")
