"""Fault tests: workers killed with SIGKILL mid-commit, Redis and PostgreSQL restarted under load, with real
processes and servers; every record must still be written exactly once."""
