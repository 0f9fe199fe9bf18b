"""Turning uploaded bytes into FAQ entries or headed sections, with clear errors for bad input."""
