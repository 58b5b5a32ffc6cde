"""The HTTP side of an import session: start, push records, commit, cancel, status."""
