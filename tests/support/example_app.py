"""Tests run the example exactly as the demo does."""

from examples.ai_secretary.runner import RunningExample, instrumented_flask, run_example

__all__ = ["RunningExample", "instrumented_flask", "run_example"]
