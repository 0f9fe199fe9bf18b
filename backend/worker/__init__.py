"""The worker process: the Celery tasks, the job runner and every domain's job handlers."""
