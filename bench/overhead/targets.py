"""Start the simulator and every target in front of it, and stop them all at the end.

Targets: ``direct`` (the simulator itself), ``floor`` (bench/passthrough.py), Bastion
with one and with two workers (quickstart config, SQLite in a temp dir), and LiteLLM.
A target that cannot start is kept as unavailable with the reason, and the run goes on.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bench.overhead import litellm_env
from bench.overhead.procs import ServerProcess, free_port, http_ok
from bench.overhead.workload import Workload, workload_for

REPO = Path(__file__).resolve().parents[2]
CHAT_PATH = "/v1/chat/completions"


@dataclass(frozen=True, slots=True)
class AdminAccess:
    """Where Bastion's admin API answers and the auditor token to read it with."""

    base_url: str
    token: str


@dataclass(slots=True)
class Target:
    """One system under test: its URL, workload (with its key) and server process."""

    name: str
    label: str
    url: str = ""
    workload: Workload | None = None
    process: ServerProcess | None = None
    admin: AdminAccess | None = None
    unavailable: str | None = None
    info: dict[str, str] = field(default_factory=dict)


def _bastion_bin() -> str:
    script = Path(sys.executable).parent / "bastion"
    return str(script) if script.exists() else "bastion"


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("BASTION_", "OPENAI_"))}


def _cli_json(argv: list[str]) -> dict[str, str]:
    done = subprocess.run(
        argv, capture_output=True, text=True, env=_clean_env(), timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv[:3])}` exited {done.returncode}: {done.stderr[-300:]}")
    data: dict[str, str] = json.loads(done.stdout)
    return data


def _probe_chat(url: str, workload: Workload) -> bool:
    return http_ok(url, body=workload.chat_body, headers=workload.header_dict) is not None


class Fleet:
    """The running simulator and targets; use as a context manager so all stop at the end."""

    def __init__(self, workdir: Path, *, with_litellm: bool) -> None:
        self.workdir = workdir
        self.with_litellm = with_litellm
        self.simulator: ServerProcess | None = None
        self.simulator_port = 0
        self.targets: list[Target] = []
        self._processes: list[ServerProcess] = []

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        for process in reversed(self._processes):
            with contextlib.suppress(Exception):
                process.stop()

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> ServerProcess:
        process = ServerProcess(
            name, argv, self.workdir / f"{name}.log", env=env or _clean_env(), cwd=REPO
        )
        self._processes.append(process)
        return process

    def start_simulator(self) -> None:
        """Start the OpenAI-wire simulator every target forwards to."""
        self.simulator_port = free_port()
        self.simulator = self._spawn(
            "simulator", [_bastion_bin(), "simulate", "--port", str(self.simulator_port)]
        )
        sim_url = f"http://127.0.0.1:{self.simulator_port}{CHAT_PATH}"
        sim_workload = workload_for("sk-simulator")
        self.simulator.wait_ready(lambda: _probe_chat(sim_url, sim_workload), 30)

    def start(self) -> list[Target]:
        """Start the simulator, then each target; return all targets (some maybe unavailable)."""
        self.start_simulator()
        starters = [
            ("direct", "direct to the simulator", self.start_direct),
            ("floor", "floor: pass-through proxy", self.start_floor),
            ("bastion-1w", "Bastion, 1 worker", lambda t: self.start_bastion(t, 1)),
            ("bastion-2w", "Bastion, 2 workers", lambda t: self.start_bastion(t, 2)),
            ("litellm", f"LiteLLM {litellm_env.LITELLM_VERSION}", self._start_litellm),
        ]
        for name, label, starter in starters:
            target = Target(name=name, label=label)
            try:
                starter(target)
            except Exception as exc:  # a target that cannot start is reported, not fatal
                target.unavailable = str(exc)[:500]
                if target.process is not None and target.process is not self.simulator:
                    target.process.stop()
                print(f"  {name}: unavailable ({target.unavailable})", flush=True)
            self.targets.append(target)
        return self.targets

    def start_direct(self, target: Target) -> None:
        """The simulator itself, as a target."""
        target.url = f"http://127.0.0.1:{self.simulator_port}{CHAT_PATH}"
        target.workload = workload_for("sk-simulator")
        target.process = self.simulator

    def start_floor(self, target: Target) -> None:
        """The minimal pass-through proxy (bench/passthrough.py) in front of the simulator."""
        port = free_port()
        argv = [
            sys.executable,
            str(REPO / "bench" / "passthrough.py"),
            "--port",
            str(port),
            "--upstream",
            f"http://127.0.0.1:{self.simulator_port}",
        ]
        target.process = self._spawn("floor", argv)
        target.url = f"http://127.0.0.1:{port}{CHAT_PATH}"
        target.workload = workload_for("sk-simulator")
        workload = target.workload
        target.process.wait_ready(lambda: _probe_chat(target.url, workload), 30)

    def start_bastion(self, target: Target, workers: int) -> None:
        """Bastion on the quickstart config (its policy, SQLite in the work dir)."""
        home = self.workdir / target.name
        home.mkdir()
        config = yaml.safe_load((REPO / "examples" / "quickstart.yaml").read_text())
        config["providers"]["openai"]["base_url"] = f"http://127.0.0.1:{self.simulator_port}/v1"
        config["providers"]["openai"]["api_key"] = "sk-simulator"
        policy = REPO / "examples" / config["policy"]["file"]
        config["policy"]["file"] = str(policy)  # the copy lives elsewhere: point at the file
        config_path = home / "bastion.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        bastion, config_arg = _bastion_bin(), ["--config", str(config_path)]
        key = _cli_json([bastion, "keys", "create", *config_arg, "--name", "bench", "--json"])
        token = _cli_json(
            [bastion, "admin-token", "create", *config_arg, "--role", "security", "--json"]
        )
        port, admin_port = free_port(), free_port()
        serve = [bastion, "serve", *config_arg, "--port", str(port)]
        serve += ["--admin-port", str(admin_port), "--workers", str(workers)]
        target.process = self._spawn(target.name, serve)
        target.url = f"http://127.0.0.1:{port}{CHAT_PATH}"
        target.workload = workload_for(key["key"])
        if workers == 1:  # with more, each worker keeps its own samples; one answers
            target.admin = AdminAccess(f"http://127.0.0.1:{admin_port}", token["token"])
        workload = target.workload
        target.process.wait_ready(lambda: _probe_chat(target.url, workload), 60)
        target.info["config"] = "examples/quickstart.yaml (SQLite, its policy: every call scanned)"

    def _start_litellm(self, target: Target) -> None:
        if not self.with_litellm:
            raise RuntimeError("skipped (--no-litellm)")
        version = litellm_env.ensure_installed(self.workdir / "litellm-install.log")
        port = free_port()
        setup = litellm_env.prepare(self.workdir, port, self.simulator_port, version)
        target.process = self._spawn("litellm", list(setup.argv), setup.env)
        target.url = f"http://127.0.0.1:{port}{CHAT_PATH}"
        target.workload = workload_for(setup.master_key)
        target.info["version"] = version
        workload = target.workload
        target.process.wait_ready(lambda: _probe_chat(target.url, workload), 120)


@contextlib.contextmanager
def running_fleet(workdir: Path, *, with_litellm: bool) -> Iterator[Fleet]:
    """Start everything under ``workdir``; stop everything on exit, also on errors/Ctrl-C."""
    with Fleet(workdir, with_litellm=with_litellm) as fleet:
        fleet.start()
        yield fleet
