"""Business rules as plain functions. They call storage functions; they never build SQL.

The domain is the only writer, and it owns its transactions. One rule, so that a caller (a
dashboard page, the command line, a job) never has to know how a change is kept:

- A function that changes state takes the ``Engine`` and opens its own transaction
  (``with engine.begin() as conn``): what it checks and what it writes commit together, or not at
  all. Its caller holds no connection while calling it.
- A function that only reads takes a ``Connection``, so that a page can read several things in
  one transaction of its own.

A few functions take a Connection and write because they are steps of a larger transaction owned
by another domain function (ingest's ``record_event`` calls ``survey.record_answer``,
``sequences.plan_sequence``, ``stops.stop_emails_for``; ``dashboard_sessions.end_all`` is part of
rotating a secret): they are never called from a route or a command on their own.
"""
