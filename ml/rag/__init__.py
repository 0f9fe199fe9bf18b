"""Turning knowledge into retrievable items (FAQ entries whole, documents chunked)."""
