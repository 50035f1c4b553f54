"""Stopping background tasks: a task that swallows a cancellation still ends."""

from __future__ import annotations

import asyncio

import pytest

from bastion.background import stop

pytestmark = pytest.mark.asyncio


async def _poller(ticks: list[int]) -> None:
    """A poller whose first cancellation is lost, as Python 3.11's asyncio.timeout loses
    one that arrives as its deadline expires (TimeoutError, caught to retry)."""
    lost = False
    while True:
        try:
            await asyncio.sleep(0.01)
            ticks.append(1)
        except asyncio.CancelledError:
            if lost:
                raise
            lost = True  # carries on as if a timeout had been caught


async def test_a_task_that_swallows_its_cancellation_is_stopped() -> None:
    ticks: list[int] = []
    task = asyncio.create_task(_poller(ticks))
    await asyncio.sleep(0.03)
    task.cancel()  # what close() did: the task carries on and `await task` never returns
    done, _ = await asyncio.wait({task}, timeout=0.3)
    assert not done
    await asyncio.wait_for(stop(task), timeout=5)
    assert task.cancelled()


async def test_stop_raises_what_the_task_failed_with_and_accepts_none() -> None:
    async def failing() -> None:
        raise ValueError("broken")

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="broken"):
        await stop(task)
    await stop(None)


async def test_a_finished_task_is_left_as_it_is() -> None:
    async def quick() -> int:
        return 7

    task = asyncio.create_task(quick())
    await task
    await stop(task)
    assert task.result() == 7
