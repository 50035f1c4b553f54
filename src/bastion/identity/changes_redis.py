"""Change notifications pushed over Redis pub/sub, with polling as the fallback.

Every process that commits a change to the store (gateway admin API, policy file
watcher, CLI) publishes a nudge on ``<redis.key_prefix>changes`` once the transaction
committed (:class:`RedisChangePublisher`, a :meth:`Database.after_changes_commit` hook).
Every gateway subscribes (:class:`RedisChangeNotifier`) and, on a nudge, reads the
store's change feed at once instead of at the end of ``storage.poll_interval_s``.

The message is only a nudge: what changed is read from the database, the source of
truth, so nothing received from Redis is trusted. When Redis is unreachable, publishing
fails quietly (logged and counted; the admin action has succeeded) and subscribers
reconnect with backoff while polling goes on at its usual interval: changes still
arrive, only later. After a reconnection the feed is read at once, for what was
published meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from bastion.background import stop
from bastion.identity.changes import ChangeCallback, PollingChangeNotifier

logger = logging.getLogger(__name__)

_FAILURES = (RedisError, OSError, TimeoutError)
_READ_WAIT_S = 1.0  # longest wait for one message before checking liveness
_BACKOFF_FIRST_S = 0.5
_BACKOFF_MAX_S = 5.0


def change_channel(key_prefix: str) -> str:
    """The pub/sub channel of one deployment (``redis.key_prefix``)."""
    return f"{key_prefix}changes"


def _client(url: str, timeout_s: float) -> redis.Redis:
    # no hidden retries: failures are handled (and counted) here
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
    )


class RedisChangePublisher:
    """Publishes a nudge after each committed change; never raises.

    ``on_failure`` is called once per nudge that could not be published (a metric).
    Each publish waits at most ``timeout_s`` (a hung Redis delays an admin action by
    that much, never fails it).
    """

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str = "bastion:",
        timeout_s: float = 1.0,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self._redis = _client(url, timeout_s)
        self._channel = change_channel(key_prefix)
        self._timeout_s = timeout_s
        self._on_failure = on_failure
        self.failures = 0

    async def publish(self, kinds: frozenset[str]) -> None:
        """Tell every subscribed process to read the change feed now."""
        try:
            # the payload is informational: subscribers read the feed, not the message
            await asyncio.wait_for(
                self._redis.publish(self._channel, ",".join(sorted(kinds))), self._timeout_s
            )
        except _FAILURES as exc:
            self.failures += 1
            logger.warning(
                "change nudge not published (%s); other replicas see the change at their next poll",
                type(exc).__name__,
            )
            if self._on_failure is not None:
                self._on_failure()

    async def close(self) -> None:
        """Close the connection pool."""
        with contextlib.suppress(*_FAILURES):
            await self._redis.aclose()


class RedisChangeNotifier:
    """A :class:`PollingChangeNotifier` that also polls when a nudge arrives over Redis.

    Implements ``ChangeNotifier``. The poller keeps its interval whatever the state of
    the subscription; ``connected`` tells whether nudges currently arrive. After
    ``keepalive_s`` of silence the subscription sends a ``PING``; no answer within
    ``timeout_s`` (plus a read wait) counts as a lost connection (a network black hole).
    """

    def __init__(
        self,
        poller: PollingChangeNotifier,
        url: str,
        *,
        key_prefix: str = "bastion:",
        timeout_s: float = 1.0,
        keepalive_s: float = 5.0,
    ) -> None:
        self._poller = poller
        self._keepalive_s = keepalive_s
        self._read_wait_s = min(_READ_WAIT_S, keepalive_s)
        self._url = url
        self._channel = change_channel(key_prefix)
        self._timeout_s = timeout_s
        self._task: asyncio.Task[None] | None = None
        self.connected = False
        self.nudges = 0

    def subscribe(self, kind: str, callback: ChangeCallback) -> None:
        """Call ``callback`` when ``kind`` changes."""
        self._poller.subscribe(kind, callback)

    async def start(self) -> None:
        """Start polling, then listen for nudges in the background."""
        if self._task is not None:
            return
        await self._poller.start()
        self._task = asyncio.create_task(self._listen(), name="bastion-change-listener")

    async def close(self) -> None:
        """Stop listening and polling; safe to call twice."""
        task, self._task = self._task, None
        await stop(task)
        await self._poller.close()

    async def _listen(self) -> None:
        delay, failing = _BACKOFF_FIRST_S, False
        while True:
            client = _client(self._url, self._timeout_s)
            try:
                await self._subscribed(client)
            except Exception as exc:  # any failure: polling carries on, retried later
                if self.connected:
                    delay = _BACKOFF_FIRST_S
                if self.connected or not failing:
                    logger.warning(
                        "change push from Redis unavailable (%s); polling every %s s until "
                        "it is back",
                        type(exc).__name__,
                        self._poller.interval_s,
                    )
                self.connected, failing = False, True
            finally:
                with contextlib.suppress(*_FAILURES):
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, _BACKOFF_MAX_S)

    async def _subscribed(self, client: redis.Redis) -> None:
        """Subscribe and nudge the poller per message, until the connection fails."""
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(self._channel)
            loop = asyncio.get_running_loop()
            heard_at = pinged_at = loop.time()
            while True:
                message = await pubsub.get_message(timeout=self._read_wait_s)
                now = loop.time()
                if message is not None:
                    heard_at = now
                    if message["type"] == "subscribe":  # Redis confirmed: nudges arrive
                        if not self.connected:
                            logger.info("change push from Redis: subscribed")
                        self.connected = True
                        self._poller.nudge()  # what was published while not subscribed
                    elif message["type"] == "message":
                        self.nudges += 1
                        self._poller.nudge()
                elif pinged_at > heard_at:  # a PING awaits its answer
                    if now - pinged_at > self._timeout_s + self._read_wait_s:
                        raise TimeoutError  # a half-open connection (a black hole)
                elif now - heard_at > self._keepalive_s:
                    await pubsub.ping()
                    pinged_at = now
        finally:
            with contextlib.suppress(*_FAILURES):
                await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]  # typed from redis 8
