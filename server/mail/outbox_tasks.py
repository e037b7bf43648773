"""Background entry points of the outbox: send what is due, reclaim expired leases."""

from __future__ import annotations

import os
import socket

from ..jobs.registry import task
from . import outbox
from .outbox_writer import OutcomeWriter

BATCH_SIZE = 100
MAX_BATCHES_PER_RUN = 50


def worker_name() -> str:
    """This process's name in leases: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


@task("outbox.send_due", every_seconds=5)
def send_due(batch_size: int = BATCH_SIZE) -> dict:
    """Claim and send due messages batch by batch until none is due (bounded per run)."""
    from flask import current_app

    from .delivery import Delivery

    lease = int(current_app.config.get("OUTBOX_LEASE_SECONDS", outbox.LEASE_SECONDS))
    totals = outbox.BatchReport()
    worker = worker_name()
    # one writer for the whole run: outcomes of a batch's last messages are committed while the
    # next batch is claimed and sent, not waited for at each batch's end
    with Delivery() as delivery, OutcomeWriter(worker, pipelined=True) as writer:
        for _ in range(MAX_BATCHES_PER_RUN):
            ids = outbox.claim_batch(worker, limit=batch_size, lease_seconds=lease)
            if not ids:
                break
            report = outbox.send_claimed(
                ids,
                worker,
                delivery.compose,
                delivery.transport_for,
                delivery.envelope_for,
                writer=writer,
            )
            for name in ("sent", "retrying", "failed", "skipped", "lost_lease"):
                setattr(totals, name, getattr(totals, name) + getattr(report, name))
            totals.errors += report.errors
    outbox.count_outcomes(writer.states, totals)
    return totals.__dict__


@task("outbox.reclaim", every_seconds=30)
def reclaim() -> int:
    """Put rows whose lease expired (their worker died) back in the queue."""
    return outbox.reclaim_expired_leases()
