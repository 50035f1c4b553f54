"""Steps that must finish even when the request is cancelled.

The server cancels a request's task when its client disconnects, and an SDK disconnects
as soon as it reads a stream's ``[DONE]``, which may be while the call is still ending.
Closing the upstream, settling the spend, writing the record and keeping an answer for
replay must not stop halfway there: a delivered answer is billed and recorded (B2).
It costs a task (~25 us), so only the stream's end pays it: a whole reply's completion
runs after its last write and no disconnect cancels it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def run_to_end(step: Awaitable[T]) -> T:
    """Await ``step`` to its end however often the caller is cancelled meanwhile; a
    cancellation is raised once it is done (the step's own error comes first)."""
    task = asyncio.ensure_future(step)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = cancelled or not task.done()
    result = task.result()
    if cancelled:
        raise asyncio.CancelledError
    return result
