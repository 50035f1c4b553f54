"""LiteLLM proxy as a comparison target, in its own virtualenv (bench/.venv-litellm).

Installed on first use with pip (``litellm[proxy]`` at a pinned version), run with no
database and no callbacks, one model ``gpt-4o-mini`` → ``openai/gpt-4o-mini`` at the
simulator. Since 1.10x LiteLLM refuses to start without a master key, so it gets a
random one per run (its auth check is the counterpart of Bastion's key lookup).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

LITELLM_VERSION = "1.108.7"
VENV = Path(__file__).resolve().parent.parent / ".venv-litellm"
_INSTALL_TIMEOUT_S = 900


@dataclass(frozen=True, slots=True)
class LiteLLMSetup:
    """How to start the LiteLLM proxy: its argv, environment and master key."""

    argv: tuple[str, ...]
    env: dict[str, str]
    master_key: str
    version: str


def _installed_version() -> str | None:
    python = VENV / "bin" / "python"
    if not (VENV / "bin" / "litellm").exists() or not python.exists():
        return None
    probe = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return probe.stdout.strip() if probe.returncode == 0 else None


def ensure_installed(log: Path) -> str:
    """Install ``litellm[proxy]`` into the bench virtualenv when missing; return its version.

    Raises RuntimeError with a short reason when it cannot be installed.
    """
    version = _installed_version()
    if version == LITELLM_VERSION:
        return version
    print(f"installing litellm[proxy]=={LITELLM_VERSION} into {VENV} (once) ...", flush=True)
    steps = [
        [sys.executable, "-m", "venv", str(VENV)],
        [str(VENV / "bin" / "pip"), "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"],
    ]
    with log.open("ab") as out:
        for argv in steps:
            try:
                done = subprocess.run(
                    argv,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=_INSTALL_TIMEOUT_S,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise RuntimeError(f"{argv[0]} failed: {exc}") from exc
            if done.returncode != 0:
                raise RuntimeError(f"`{' '.join(argv[:3])}` exited {done.returncode}; see {log}")
    version = _installed_version()
    if version is None:
        raise RuntimeError(f"litellm is not importable after installing; see {log}")
    return version


def prepare(workdir: Path, port: int, simulator_port: int, version: str) -> LiteLLMSetup:
    """Write the proxy config into ``workdir`` and return how to start it on ``port``."""
    config = {
        "model_list": [
            {
                "model_name": "gpt-4o-mini",
                "litellm_params": {
                    "model": "openai/gpt-4o-mini",
                    "api_base": f"http://127.0.0.1:{simulator_port}/v1",
                    "api_key": "sk-simulator",
                },
            }
        ],
        "litellm_settings": {
            "callbacks": [],
            "success_callback": [],
            "failure_callback": [],
            "telemetry": False,
            "set_verbose": False,
        },
    }
    path = workdir / "litellm.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    master_key = "sk-" + secrets.token_hex(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM_", "DATABASE_"))}
    env.update(
        {
            "LITELLM_MASTER_KEY": master_key,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no network fetch of the price list
            "LITELLM_LOG": "ERROR",
        }
    )
    argv = (
        str(VENV / "bin" / "litellm"),
        "--config",
        str(path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    )
    return LiteLLMSetup(argv=argv, env=env, master_key=master_key, version=version)
