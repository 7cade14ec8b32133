"""A test kit for apps instrumented with otel-secretary, and for this project's own tests and demo.

Everything here runs for real on loopback, on free ports, and stops when its ``with`` block ends:

* :mod:`otel_secretary.testing.local_services`: stand-ins for OpenAI, Google Calendar and Stripe that the
  real client libraries talk to, with scripted faults (``svc.fail("429x2")``), so error paths can be
  tested without the real services or their bills;
* :mod:`otel_secretary.testing.receivers`: where alert notifications land (an HTTP endpoint that can play
  a broken one, and an SMTP mailbox);
* :mod:`otel_secretary.testing.processes`: real subprocesses with captured logs, free ports, Redis, and
  the finders for console scripts and stripe-mock.

It lives in the package (not under ``tests/``) because the example app runs the same stand-ins at
runtime (``make demo``), and users' own tests can use them. It imports no test framework; only
:class:`~otel_secretary.testing.receivers.SmtpMailbox` needs an extra (aiosmtpd, in ``[example]``).
"""
