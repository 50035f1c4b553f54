"""Process logging (``server.log_format``): JSON lines with the request id of the call
being handled, and the text format's request id suffix."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging
from collections.abc import Iterator

import pytest

from bastion.server.logs import REQUEST_ID, JsonFormatter, TextFormatter, configure_logging


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("bastion.test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_has_time_level_logger_and_message(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    contextvars.copy_context().run(logger.warning, "store %s unreachable", "audit")
    [line] = _lines(stream)
    assert line["level"] == "warning" and line["logger"] == "bastion.test.logs"
    assert line["message"] == "store audit unreachable"
    assert str(line["time"]).endswith("+00:00")
    assert "request_id" not in line  # outside a call


async def test_lines_written_while_a_call_is_handled_carry_its_request_id(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured

    async def call(request_id: str) -> None:
        REQUEST_ID.set(request_id)  # as the proxy does when it assigns the id
        await asyncio.sleep(0)
        logger.info("decided")
        await asyncio.create_task(asyncio.sleep(0))  # a task the call starts inherits it
        logger.info("answered")

    await asyncio.gather(asyncio.create_task(call("req_a")), asyncio.create_task(call("req_b")))
    lines = _lines(stream)
    assert sorted((str(line["request_id"]), str(line["message"])) for line in lines) == [
        ("req_a", "answered"),
        ("req_a", "decided"),
        ("req_b", "answered"),
        ("req_b", "decided"),
    ]
    assert REQUEST_ID.get() is None  # each call's id stayed in its own task


def test_an_exception_is_one_line_with_its_traceback(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("unexpected error")
    [line] = _lines(stream)
    assert "RuntimeError: boom" in str(line["exception"])
    assert stream.getvalue().count("\n") == 1


def test_text_lines_end_with_the_request_id_inside_a_call() -> None:
    record = logging.LogRecord("bastion.x", logging.INFO, __file__, 1, "decided", None, None)
    formatter = TextFormatter()
    outside = contextvars.copy_context().run(formatter.format, record)
    assert outside.endswith("INFO bastion.x: decided")

    def inside() -> str:
        REQUEST_ID.set("req_c")
        return formatter.format(record)

    assert contextvars.copy_context().run(inside).endswith("decided [req_c]")


def test_configure_logging_installs_one_handler_of_the_format() -> None:
    root = logging.getLogger()
    before = list(root.handlers), root.level
    try:
        configure_logging("json")
        configure_logging("json")
        assert len(root.handlers) == 1
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in before[0]:
            root.addHandler(handler)
        root.setLevel(before[1])
