"""Cross-cutting pieces: settings, database, security, errors, metrics."""
