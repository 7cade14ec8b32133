"""Tests run the example exactly as the demo does."""

from examples.ai_secretary.runner import RunningExample, run_example, stripe_mock_binary

__all__ = ["RunningExample", "run_example", "stripe_mock_binary"]
