"""HTTP layer: dependencies and router mounting under /api/v1."""
