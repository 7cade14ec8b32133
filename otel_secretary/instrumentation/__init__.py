"""Outbound-call instrumentation: OpenAI (on top of genai-openai), Stripe, Google Calendar, and
``@traced_external_call`` for anything else. Each module is importable without its client library
installed until instrumentation is requested."""
