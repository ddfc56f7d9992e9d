"""Plain values and rules: no I/O here."""
