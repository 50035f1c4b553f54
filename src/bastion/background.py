"""Stopping the background tasks of a service (pollers, heartbeats, flushers) on close.

Cancelling once is not always enough on Python 3.11: a cancellation that arrives just
as an ``asyncio.timeout`` around the task's I/O expires comes out of that block as
``TimeoutError``, and a loop that retries on timeouts (as every poller here does)
carries on with the cancellation spent, so ``await task`` after ``task.cancel()``
waits forever. :func:`stop` cancels again until the task has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

_RECANCEL_S = 0.1


async def stop(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait until it has ended (cancelling again while it swallows
    the cancellation). An exception the task ended with, other than its cancellation,
    is raised here as ``await task`` would."""
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=_RECANCEL_S)
    with contextlib.suppress(asyncio.CancelledError):
        await task
