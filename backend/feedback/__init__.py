"""Visitors' ratings of the assistant's answers (the feedback loop)."""
