"""Schedules, locally: call each scheduled function every SCHEDULE_SECONDS (default 60), or on `tick()`.

The template's cron/rate expression is not evaluated locally; one interval drives every schedule so the
demo and the developer decide the pace.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from .aws import ACCOUNT_ID, REGION, STACK_NAME
from .lambdas import Handlers
from .template import ScheduleEvent, Template

log = logging.getLogger("sandbox.scheduler")

DEFAULT_SCHEDULE_SECONDS = 60.0


def schedule_seconds() -> float:
    return float(os.environ.get("SCHEDULE_SECONDS", DEFAULT_SCHEDULE_SECONDS))


def schedule_event(function: str, schedule: ScheduleEvent, now: datetime | None = None) -> dict[str, Any]:
    """What the function receives: the schedule's `Input` if the template sets one, else the default
    notification (`Scheduled Event`) of EventBridge Scheduler (ScheduleV2) or of an EventBridge rule."""
    now = now or datetime.now(UTC)
    time_text = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    if schedule.kind == "ScheduleV2":
        arn = (
            f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/default/{STACK_NAME}-{function}{schedule.name}"
        )
        source = "aws.scheduler"
    else:
        arn = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{STACK_NAME}-{function}{schedule.name}"
        source = "aws.events"
    if schedule.input is not None:
        text = (
            str(schedule.input)
            .replace("<aws.scheduler.schedule-arn>", arn)
            .replace("<aws.scheduler.scheduled-time>", time_text)
            .replace("<aws.scheduler.execution-id>", str(uuid.uuid4()))
            .replace("<aws.scheduler.attempt-number>", "0")
        )
        return json.loads(text)  # type: ignore[no-any-return]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": source,
        "account": ACCOUNT_ID,
        "time": time_text,
        "region": REGION,
        "resources": [arn],
        "detail": {},
    }


class Scheduler:
    def __init__(self, template: Template, handlers: Handlers, interval: float | None = None) -> None:
        self.template = template
        self.handlers = handlers
        self.interval = interval if interval is not None else schedule_seconds()
        self.schedules = [
            (fn.logical_id, schedule) for fn in template.functions.values() for schedule in fn.schedule_events
        ]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tick_lock = threading.Lock()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=60)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()

    def tick(self, function: str | None = None) -> dict[str, Any]:
        """Fire every schedule (or only `function`'s) once, now; returns each handler's result.

        A handler that raises is logged (the scheduler keeps going) and its result is the exception.
        """
        results: dict[str, Any] = {}
        with self._tick_lock:  # the timer and a manual tick never overlap
            for logical_id, schedule in self.schedules:
                if function is not None and logical_id != function:
                    continue
                key = f"{logical_id}.{schedule.name}"
                try:
                    results[key] = self.handlers.invoke(logical_id, schedule_event(logical_id, schedule))
                except Exception as exc:
                    log.exception("scheduled %s failed", key)
                    results[key] = exc
        return results
