"""Where the example app finds its dependencies; every default is a loopback address."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class AppConfig:
    openai_base_url: str
    calendar_base_url: str
    stripe_base_url: str
    redis_url: str
    database_url: str
    allow_faults: bool

    @classmethod
    def from_env(cls) -> AppConfig:
        env = os.environ
        return cls(
            openai_base_url=env.get("AI_SECRETARY_OPENAI_BASE_URL", "http://127.0.0.1:18080/v1"),
            calendar_base_url=env.get("AI_SECRETARY_CALENDAR_BASE_URL", "http://127.0.0.1:18081"),
            stripe_base_url=env.get("AI_SECRETARY_STRIPE_BASE_URL", "http://127.0.0.1:12111"),
            redis_url=env.get("AI_SECRETARY_REDIS_URL", "redis://127.0.0.1:6379/0"),
            database_url=env.get("AI_SECRETARY_DATABASE_URL", "sqlite:///ai_secretary.sqlite3"),
            # Lets tests and the demo ask the local stand-ins for a failure (x-fake-fault); off in production.
            allow_faults=env.get("AI_SECRETARY_ALLOW_FAULTS", "0") == "1",
        )
