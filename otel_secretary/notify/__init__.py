"""Notification channels and background delivery for the in-process rule engine."""

from otel_secretary.notify.channels import (
    Channel,
    ChannelError,
    EmailChannel,
    PagerDutyChannel,
    SlackChannel,
    WebhookChannel,
)
from otel_secretary.notify.config import build_channels, load_dispatcher
from otel_secretary.notify.dispatcher import Dispatcher, RetryPolicy
from otel_secretary.notify.verify import InvalidSignature, verify

__all__ = [
    "Channel",
    "ChannelError",
    "Dispatcher",
    "EmailChannel",
    "InvalidSignature",
    "PagerDutyChannel",
    "RetryPolicy",
    "SlackChannel",
    "WebhookChannel",
    "build_channels",
    "load_dispatcher",
    "verify",
]
