"""deskpilot backend: FastAPI app, SQLModel tables, Celery jobs and the `deskpilot` CLI."""
