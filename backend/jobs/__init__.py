"""Background jobs: a Job row per unit of long work, run by Celery, watched by a reaper."""
