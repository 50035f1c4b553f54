"""The write-ahead log: append and replay, torn tails, rotation, writer locks, fsync,
and its versioned segment format."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

import orjson
import pytest

from bastion.audit.wal import WAL_FORMAT, Position, WalFailed, WalFormatError, WriteAheadLog


def _entries(wal: WriteAheadLog, after: Position, limit: int = 1000) -> tuple[list[int], Position]:
    entries, end = wal.read(after, limit)
    return [e["n"] for e in entries], end


def test_appended_entries_replay_in_order_after_a_restart(tmp_path: Path) -> None:
    wal = WriteAheadLog.open(tmp_path)
    start = wal.start
    for n in range(5):
        wal.append({"n": n})
    writer = wal.writer_id
    wal.close()  # as a killed process would leave it: nothing shipped

    again = WriteAheadLog.open(tmp_path)
    assert again.writer_id == writer  # the same writer continues its chain
    numbers, end = _entries(again, start)
    assert numbers == [0, 1, 2, 3, 4]
    assert _entries(again, end) == ([], end)
    again.append({"n": 5})
    assert _entries(again, end)[0] == [5]


def test_reading_in_batches_resumes_where_it_stopped(tmp_path: Path) -> None:
    wal = WriteAheadLog.open(tmp_path)
    for n in range(7):
        wal.append({"n": n})
    position, seen = wal.start, []
    while True:
        numbers, position = _entries(wal, position, limit=3)
        if not numbers:
            break
        assert len(numbers) <= 3
        seen += numbers
    assert seen == list(range(7))


def test_a_line_torn_by_a_crash_is_skipped(tmp_path: Path) -> None:
    wal = WriteAheadLog.open(tmp_path)
    wal.append({"n": 1})
    segment = next(wal.segments())
    wal.close()
    with segment.open("ab") as handle:
        handle.write(b'{"n": 2, "half')  # write(2) never returned: the call never went out
    again = WriteAheadLog.open(tmp_path)
    again.append({"n": 3})
    assert _entries(again, Position(0, 0))[0] == [1, 3]


def test_segments_rotate_and_shipped_ones_are_deleted(tmp_path: Path) -> None:
    wal = WriteAheadLog.open(tmp_path, segment_bytes=4096)
    for n in range(200):
        wal.append({"n": n, "pad": "x" * 40})
    assert len(list(wal.segments())) > 2
    numbers, end = _entries(wal, wal.start)
    assert numbers == list(range(200))
    assert wal.unshipped_bytes(end) == 0
    assert wal.unshipped_bytes(wal.start) > 200 * 40
    wal.release(end)
    assert len(list(wal.segments())) == 1  # only the segment being written stays


def test_a_second_process_gets_its_own_writer(tmp_path: Path) -> None:
    first = WriteAheadLog.open(tmp_path)
    second = WriteAheadLog.open(tmp_path)
    assert first.writer_id != second.writer_id
    first.close()
    third = WriteAheadLog.open(tmp_path)  # the first's directory is free again
    assert third.writer_id == first.writer_id


async def test_one_fsync_serves_every_entry_written_before_it(tmp_path: Path) -> None:
    calls: list[int] = []

    def fsync(fd: int) -> None:
        calls.append(fd)

    wal = WriteAheadLog.open(tmp_path, durability="fsync", fsync=fsync)
    for n in range(20):
        wal.append({"n": n})
    await asyncio.gather(*(wal.sync() for _ in range(20)))
    assert len(calls) == 1
    await wal.sync()  # nothing new: no fsync
    assert len(calls) == 1


async def test_a_failed_fsync_fails_the_log_for_good(tmp_path: Path) -> None:
    def failing(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    wal = WriteAheadLog.open(tmp_path, durability="fsync", fsync=failing)
    wal.append({"n": 1})
    with pytest.raises(WalFailed):
        await wal.sync()
    assert wal.failed
    with pytest.raises(WalFailed):
        wal.append({"n": 2})  # never continues after a failed fsync


def test_a_failed_write_fails_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wal = WriteAheadLog.open(tmp_path)

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("bastion.audit.wal.os.write", full)
    with pytest.raises(WalFailed):
        wal.append({"n": 1})
    monkeypatch.undo()
    assert wal.failed
    with pytest.raises(WalFailed):
        wal.append({"n": 2})


def test_each_segment_starts_with_its_format_version(tmp_path: Path) -> None:
    wal = WriteAheadLog.open(tmp_path, segment_bytes=40)
    for n in range(6):
        wal.append({"n": n})
    segments = list(wal.segments())
    assert len(segments) > 1
    for segment in segments:
        first = segment.read_bytes().split(b"\n", 1)[0]
        assert orjson.loads(first) == {"bastion_wal": WAL_FORMAT}
    assert _entries(wal, wal.start)[0] == list(range(6))  # the headers are not entries


def _writer_dir(tmp_path: Path, content: bytes) -> Path:
    directory = tmp_path / "w_0123456789ab"
    directory.mkdir(parents=True)
    segment = directory / "000000000001.wal"
    segment.write_bytes(content)
    return segment


@pytest.mark.parametrize(
    ("content", "says"),
    [
        pytest.param(b'{"bastion_wal":2}\n{"k":"intent"}\n', "format 2", id="newer-version"),
        pytest.param(b'{"bastion_wal":"1"}\n', "format '1'", id="version-not-a-number"),
        pytest.param(b"PGCOPY\n", "not a Bastion write-ahead log", id="not-a-log"),
        pytest.param(b'{"n":1}\n', "format None", id="json-without-header-or-entry"),
    ],
)
def test_a_segment_of_an_unknown_format_is_refused_not_guessed(
    tmp_path: Path, content: bytes, says: str
) -> None:
    segment = _writer_dir(tmp_path, content)
    with pytest.raises(WalFormatError) as refused:
        WriteAheadLog.open(tmp_path)
    assert str(segment) in str(refused.value) and says in str(refused.value)
    assert segment.read_bytes() == content  # left as found, for the version that wrote it


def test_a_segment_from_before_the_header_is_read_as_format_0(tmp_path: Path) -> None:
    lines = [{"k": "intent", "r": "req_1", "n": 1}, {"k": "completion", "r": "req_1", "n": 2}]
    _writer_dir(tmp_path, b"".join(orjson.dumps(line) + b"\n" for line in lines))
    wal = WriteAheadLog.open(tmp_path)
    assert _entries(wal, wal.start)[0] == [1, 2]


def test_the_shipper_gets_every_entry_once_from_memory_or_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This process's newest entries are read from memory; a re-read after a failed ship
    comes from the file; across segment rotations, nothing is lost, repeated or reordered
    and every shipped segment can be deleted."""
    wal = WriteAheadLog.open(tmp_path, segment_bytes=512)
    file_reads = 0
    read_chunk = wal._read_chunk

    def counted(position: Position) -> bytes:
        nonlocal file_reads
        file_reads += 1
        return read_chunk(position)

    monkeypatch.setattr(wal, "_read_chunk", counted)
    appended = 0

    def append(count: int) -> None:
        nonlocal appended
        for _ in range(count):
            wal.append({"n": appended, "pad": "x" * 30})
            appended += 1

    append(10)
    position, seen = wal.start, []
    batch = 0
    while len(seen) < 90:
        before = file_reads
        numbers, end = _entries(wal, position, limit=7)
        assert file_reads == before  # entries never shipped come from memory
        if batch % 3 == 1:  # the ship failed: the next round reads the same entries again
            before = file_reads
            assert _entries(wal, position, limit=7)[0] == numbers
            assert file_reads > before
        seen += numbers
        position = end
        append(5 if appended < 90 else 0)
        batch += 1
    assert seen == list(range(90))
    assert _entries(wal, position) == ([], position)
    assert len(list(wal.segments())) > 3
    wal.release(position)
    assert len(list(wal.segments())) == 1
    assert wal.unshipped_bytes(position) == 0
