"""The benchmark's side of the Presidio pipe: start the runner, ask, read, stop.

The runner (``presidio_runner.py``) lives in bench/.venv-presidio so the benchmark
itself stays in the project's virtualenv. One request and one answer per line; a dead
or silent runner becomes a RuntimeError naming its log file.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.detect import presidio_env

CONFIGS = ("spacy", "patterns")
_ANSWER_TIMEOUT_S = 600.0


class PresidioRunner:
    """A running ``presidio_runner.py`` with both configurations loaded."""

    def __init__(self, process: subprocess.Popen[str], log: Path) -> None:
        self._process = process
        self._log = log
        self.info: dict[str, Any] = {}

    def request(self, **request: Any) -> dict[str, Any]:
        """Send one request; return the answer, or raise RuntimeError on any failure."""
        assert self._process.stdin is not None and self._process.stdout is not None
        try:
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
        except BrokenPipeError as exc:
            raise RuntimeError(f"the Presidio runner has exited; see {self._log}") from exc
        ready, _, _ = select.select([self._process.stdout], [], [], _ANSWER_TIMEOUT_S)
        line = self._process.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"no answer from the Presidio runner; see {self._log}")
        answer: dict[str, Any] = json.loads(line)
        if not answer.get("ok"):
            raise RuntimeError(f"Presidio runner: {answer.get('error')}")
        return answer

    def time_calls(
        self, config: str, texts: Sequence[str], *, budget_s: float, min_calls: int, max_calls: int
    ) -> tuple[list[int], list[int]]:
        """Per-call nanoseconds of analyze and of anonymize, cycling through ``texts``."""
        answer = self.request(
            op="time",
            config=config,
            texts=list(texts),
            budget_s=budget_s,
            min_calls=min_calls,
            max_calls=max_calls,
        )
        return answer["analyze_ns"], answer["anonymize_ns"]

    def analyze(
        self, config: str, texts: Sequence[str], entities: Sequence[str]
    ) -> list[list[tuple[int, int, str, float]]]:
        """Every text's results as ``(start, end, entity_type, score)``."""
        answer = self.request(op="analyze", config=config, texts=list(texts), entities=entities)
        return [[(s, e, t, score) for s, e, t, score in rows] for rows in answer["results"]]


@contextmanager
def running_presidio(log: Path) -> Iterator[PresidioRunner]:
    """Install (once), start and load the runner; stop it on exit.

    Raises RuntimeError when Presidio cannot be installed, started or loaded.
    """
    presidio_env.ensure_installed(log)
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "", "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONPATH", None)
    with log.open("ab") as stderr:
        process = subprocess.Popen(
            [str(presidio_env.PYTHON), str(presidio_env.RUNNER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )
    runner = PresidioRunner(process, log)
    try:
        runner.info = runner.request(op="load", model=presidio_env.SPACY_MODEL)
        runner.info.pop("ok", None)
        yield runner
    finally:
        try:
            if process.poll() is None:
                runner.request(op="quit")
        except RuntimeError:
            pass
        finally:
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
