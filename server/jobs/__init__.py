"""Background jobs: enqueue(), in-process runner, Celery app."""
