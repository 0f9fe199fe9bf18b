"""Celery app, job runner and dispatch; the tasks themselves live with their domains."""
