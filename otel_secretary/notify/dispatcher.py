"""Delivery: one worker thread and bounded queue per channel, retries with backoff, failed deliveries kept.

A slow or failing channel only ever delays itself: the engine and the app just enqueue. Deliveries that
exhaust their attempts go to a bounded dead-letter list (persisted as JSON when a path is given) and are
retried later, so nothing is silently lost while the list has room.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from otel_secretary import pii
from otel_secretary._internal.self_monitoring import report_dropped
from otel_secretary.alerting.model import Notification
from otel_secretary.notify.channels import Channel, ChannelError
from otel_secretary.notify.masking import mask_notification, untraced

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    backoff: float = 1.0  # seconds before the 2nd attempt, doubled each time
    max_backoff: float = 30.0
    retry_failed_every: float = 300.0
    max_failed: int = 500
    queue_size: int = 1000


@dataclass
class Delivery:
    channel: str
    notification: Notification
    attempts: int = 0
    last_error: str = ""
    failed_at: float = 0.0


class _Worker:
    def __init__(self, channel: Channel, dispatcher: Dispatcher) -> None:
        self.channel = channel
        self.dispatcher = dispatcher
        self.queue: queue.Queue[Delivery | None] = queue.Queue(dispatcher.policy.queue_size)
        self.thread = threading.Thread(
            target=self._run, name=f"otel-secretary-notify-{channel.name}", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            try:
                if item is None:
                    return
                self.dispatcher._deliver(self.channel, item)
            finally:
                self.queue.task_done()


class Dispatcher:
    """Route notifications to channels by severity and deliver them in the background."""

    def __init__(
        self,
        channels: Sequence[Channel],
        policy: RetryPolicy | None = None,
        failed_path: Path | None = None,
        sleep: Any = time.sleep,
        masker: pii.Masker | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.masker = masker
        self.channels = {c.name: c for c in channels}
        self.failed_path = failed_path
        self._sleep = sleep
        self._lock = threading.Lock()
        self.failed: deque[Delivery] = deque(maxlen=self.policy.max_failed)
        self._in_flight: dict[int, list[Any]] = {}
        #: Called (on a worker thread) when a notification is settled on every channel.
        self.on_settled: Callable[[], None] | None = None
        self.delivered = 0
        self.dropped = 0
        self._load_failed()
        self._workers = {name: _Worker(channel, self) for name, channel in self.channels.items()}
        self._stop = threading.Event()
        self._retrier = threading.Thread(
            target=self._retry_loop, name="otel-secretary-notify-retry", daemon=True
        )
        self._retrier.start()

    def wants(self, channel: Channel, notification: Notification) -> bool:
        return (
            notification.kind == "test"
            or not channel.severities
            or notification.severity in channel.severities
        )

    def submit(self, notification: Notification) -> None:
        """Enqueue for every interested channel; never blocks and never raises.

        The notification is PII-masked here, once, before any channel, retry or dead-letter file sees it.
        """
        notification = mask_notification(notification, self.masker)
        for name, worker in self._workers.items():
            if not self.wants(worker.channel, notification):
                continue
            try:
                with self._lock:
                    self._in_flight.setdefault(id(notification), [notification, 0])[1] += 1
                worker.queue.put_nowait(Delivery(name, notification))
            except queue.Full:
                self._settle(notification)
                with self._lock:
                    self.dropped += 1
                _log.warning("notification queue of channel %s is full; delivery dropped", name)
                report_dropped("notifications", "queue_full", 1, f"channel {name}: delivery queue full")

    def pending(self) -> list[Notification]:
        """Notifications queued and not yet settled (delivered, or kept as failed) on every channel.

        The embedded engine persists them: if the process dies, the next evaluator sends them."""
        with self._lock:
            return [entry[0] for entry in self._in_flight.values()]

    def _settle(self, notification: Notification) -> None:
        done = False
        with self._lock:
            entry = self._in_flight.get(id(notification))
            if entry is not None:
                entry[1] -= 1
                if entry[1] <= 0:
                    del self._in_flight[id(notification)]
                    done = True
        if done and self.on_settled is not None:
            try:
                self.on_settled()
            except Exception:
                _log.debug("on_settled hook failed", exc_info=True)

    __call__ = submit

    def _deliver(self, channel: Channel, delivery: Delivery) -> None:
        delay = self.policy.backoff
        while True:
            delivery.attempts += 1
            try:
                with untraced():
                    channel.send(delivery.notification)
            except ChannelError as exc:
                delivery.last_error = str(exc)
                if exc.retryable and delivery.attempts % self.policy.attempts != 0:
                    self._sleep(delay)
                    delay = min(delay * 2, self.policy.max_backoff)
                    continue
            except Exception as exc:  # a channel bug must not kill its worker
                delivery.last_error = f"{type(exc).__name__}: {exc}"
            else:
                with self._lock:
                    self.delivered += 1
                self._settle(delivery.notification)
                return
            delivery.failed_at = time.time()
            with self._lock:
                evicted = len(self.failed) == self.failed.maxlen
                self.failed.append(delivery)
            if evicted:  # the oldest kept failure made room: that one is lost for good
                report_dropped(
                    "notifications", "failed_list_full", 1, f"channel {channel.name}: {delivery.last_error}"
                )
            _log.warning(
                "delivery to %s failed after %d attempts: %s",
                channel.name,
                delivery.attempts,
                delivery.last_error,
            )
            self._save_failed()
            self._settle(delivery.notification)  # kept in notify-failed.json, retried from there
            return

    def retry_failed(self) -> int:
        """Re-queue every kept failure; returns how many were re-queued."""
        with self._lock:
            pending = list(self.failed)
            self.failed.clear()
        count = 0
        for delivery in pending:
            worker = self._workers.get(delivery.channel)
            if worker is None:
                continue
            try:
                worker.queue.put_nowait(delivery)
                count += 1
            except queue.Full:
                with self._lock:
                    self.failed.append(delivery)
        self._save_failed()
        return count

    def _retry_loop(self) -> None:
        while not self._stop.wait(self.policy.retry_failed_every):
            if self.failed:
                self.retry_failed()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queue is drained (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout
        for worker in self._workers.values():
            while worker.queue.unfinished_tasks:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.01)
        return True

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for worker in self._workers.values():
            try:
                worker.queue.put(None, timeout=timeout)
            except queue.Full:
                continue
        for worker in self._workers.values():
            worker.thread.join(timeout)

    # ----------------------------------------------------------------------------- persistence

    def _save_failed(self) -> None:
        if self.failed_path is None:
            return
        with self._lock:
            data = [{**asdict(d), "notification": {**asdict(d.notification)}} for d in self.failed]
        try:
            self.failed_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.failed_path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, default=str), encoding="utf-8")
            tmp.replace(self.failed_path)
        except OSError:
            _log.warning("cannot persist failed deliveries to %s", self.failed_path, exc_info=True)

    def _load_failed(self) -> None:
        if self.failed_path is None or not self.failed_path.exists():
            return
        try:
            for item in json.loads(self.failed_path.read_text(encoding="utf-8")):
                notification = Notification(**item.pop("notification"))
                self.failed.append(Delivery(notification=notification, **item))
        except (OSError, ValueError, TypeError):
            _log.warning("ignoring unreadable failed-delivery file %s", self.failed_path, exc_info=True)
