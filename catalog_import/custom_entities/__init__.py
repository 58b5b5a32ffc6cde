"""Custom entities: declarations (a JSON Schema of their fields), and reading their records."""
