"""The local stack as a subprocess (``python -m batchrelay_tools.local``), and clients for it."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
READY = re.compile(r"^BATCHRELAY_READY (.*)$", re.MULTILINE)


@dataclass
class RunningStack:
    process: subprocess.Popen
    log: Path
    url: str
    api_key: str
    simulator: str

    def env(self) -> dict[str, str]:
        """Environment for a CLI subprocess talking to this stack."""
        env = _base_env()
        env.update(BATCHRELAY_URL=self.url, BATCHRELAY_API_KEY=self.api_key)
        return env

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"x-api-key": self.api_key}, timeout=60)

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*cli_command(), *args],
            env=self.env(), capture_output=True, text=True, timeout=timeout, cwd=self.log.parent,
        )

    def sim_config(self, **changes) -> None:
        httpx.post(f"{self.simulator}/_sim/config", json=changes, timeout=10).raise_for_status()


def cli_command() -> list[str]:
    """The `batchrelay` command as a user runs it: the console script `make setup` installs
    beside this interpreter (the module when the package is not installed)."""
    script = Path(sys.executable).parent / "batchrelay"
    return [str(script)] if script.exists() else [sys.executable, "-m", "batchrelay_tools.cli.main"]


def _base_env() -> dict[str, str]:
    # No provider's key or address: every provider is the stack's simulator.
    from batchrelay import registry

    own = ("AWS_", "BATCHRELAY_", *(f"{spec.env_prefix}_" for spec in registry.specs()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FUNCTIONS), env.get("PYTHONPATH")]))
    return env


def start_stack(workdir: Path, **settings: str) -> RunningStack:
    env = _base_env()
    api_key = "e2e_" + secrets.token_hex(8)
    env.update(
        BATCHRELAY_PORT="0",
        BATCHRELAY_API_KEY=api_key,
        BATCHRELAY_POLL_SECONDS="1",
        BATCHRELAY_RETRY_SECONDS="1",
        BATCHRELAY_SIM_PROCESSING_SECONDS="2",
        BATCHRELAY_SIM_FAILURE_FRACTION="0.05",
        **settings,
    )
    log = workdir / "stack.log"
    out = log.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "batchrelay_tools.local"], env=env, stdout=out, stderr=subprocess.STDOUT,
        cwd=workdir, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = READY.search(log.read_text())
        if match:
            fields = dict(part.split("=", 1) for part in match.group(1).split())
            return RunningStack(process, log, fields["url"], fields["api_key"], fields["simulator"])
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"the local stack did not start:\n{log.read_text()[-4000:]}")


def stop_stack(stack: RunningStack, timeout: float = 30) -> int:
    """SIGINT (Ctrl-C) and wait; returns the exit code."""
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGINT)
    try:
        return stack.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(stack.process.pid, signal.SIGKILL)
        stack.process.wait()
        raise
