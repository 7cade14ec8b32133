"""The real client libraries, pointed at whatever the config says (local stand-ins by default)."""

from __future__ import annotations

from functools import cache
from typing import Any

import openai
import stripe

from examples.ai_secretary.config import AppConfig

# Not secrets: stripe-mock accepts any test-mode key, and the local stand-ins ignore keys.
_STRIPE_TEST_KEY = "sk_test_localStandIn"
_OPENAI_KEY = "local-stand-in"


@cache
def openai_client(config: AppConfig) -> openai.OpenAI:
    return openai.OpenAI(base_url=config.openai_base_url, api_key=_OPENAI_KEY, max_retries=2, timeout=10)


@cache
def stripe_client(config: AppConfig) -> stripe.StripeClient:
    return stripe.StripeClient(
        _STRIPE_TEST_KEY,
        base_addresses={"api": config.stripe_base_url},
        max_network_retries=1,
    )


@cache
def calendar_service(config: AppConfig) -> Any:
    from googleapiclient.discovery import build

    return build(
        "calendar",
        "v3",
        discoveryServiceUrl=config.calendar_base_url + "/discovery/v1/apis/{api}/{apiVersion}/rest",
        developerKey="local-stand-in",
        static_discovery=False,
        cache_discovery=False,
    )
