"""A batch's hand-offs (invoice_bridge/hand_offs.py): each message kept under its record, sent together,
and a message the queue did not take names its record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from invoice_bridge.hand_offs import BatchHandOffs, HandOffNotSent
from invoice_bridge.ports import QueueMessage
from render_doubles import MemoryQueue


class RefusingQueue(MemoryQueue):
    """Takes every message but those whose invoice id is in `refused`; with `down`, no request gets through."""

    def __init__(self, refused: frozenset[str] = frozenset(), down: bool = False) -> None:
        super().__init__()
        self.refused, self.down, self.requests = refused, down, 0

    def send_many(self, messages: Sequence[QueueMessage]) -> Mapping[int, str]:
        self.requests += 1
        if self.down:
            raise ConnectionError("the queue is not there")
        taken = [m for m in messages if m.body["invoice_id"] not in self.refused]
        super().send_many(taken)
        return {i: "InternalError" for i, m in enumerate(messages) if m.body["invoice_id"] in self.refused}


def keep(batch: BatchHandOffs) -> None:
    for record, invoice in (("m-1", "inv-1"), ("m-2", "inv-2"), ("m-3", "inv-3")):
        batch.queue_for(record).send({"invoice_id": invoice, "version": 1}, deduplication_id=f"{invoice}:v1")


def test_the_messages_of_a_batch_go_in_one_send_and_nothing_before_it() -> None:
    queue = RefusingQueue()
    batch = BatchHandOffs(queue)
    keep(batch)
    assert queue.requests == 0 and not queue.messages
    assert batch.send() == {}
    assert queue.requests == 1
    assert queue.messages == [({"invoice_id": f"inv-{n}", "version": 1}, f"inv-{n}:v1") for n in (1, 2, 3)]
    assert batch.send() == {} and queue.requests == 1  # sent once: nothing left to send


def test_a_message_the_queue_did_not_take_names_its_record() -> None:
    batch = BatchHandOffs(RefusingQueue(refused=frozenset({"inv-2"})))
    keep(batch)
    failed = batch.send()
    assert list(failed) == ["m-2"]
    assert isinstance(failed["m-2"], HandOffNotSent) and failed["m-2"].reason == "InternalError"


def test_a_request_that_failed_names_every_record_of_the_batch() -> None:
    batch = BatchHandOffs(RefusingQueue(down=True))
    keep(batch)
    assert sorted(batch.send()) == ["m-1", "m-2", "m-3"]
