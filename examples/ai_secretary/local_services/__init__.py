"""Loopback stand-ins for OpenAI, Google Calendar and Stripe used by tests and the demo."""
