"""Background entry point of CSV imports (REC-5): the API queues a job, a worker runs it."""

from ..jobs.registry import task
from . import import_jobs


@task("imports.run")
def run(job_id: int) -> None:
    """Run import job `job_id` (progress and errors are written on the job row)."""
    import_jobs.run_import(job_id)
