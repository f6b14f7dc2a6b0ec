"""Real `mediation serve` and `mediation projections run` processes on loopback.

The API and (when asked) a separate projection worker over one database, each with its own
log file; `crash()` kills both with SIGKILL, `start()` brings them back on the same port.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


class ProcessError(RuntimeError):
    """A process did not come up, or did not stop when asked."""


class Deployment:
    """One API process, plus a projection worker when `separate_worker`."""

    def __init__(self, database_url: str, folder: Path, separate_worker: bool) -> None:
        self.folder = folder
        self.separate_worker = separate_worker
        self.port = free_port()
        self.env = os.environ | {
            "MEDIATION_DATABASE_URL": database_url,
            "MEDIATION_LOG_LEVEL": "WARNING",
            "MEDIATION_BACKGROUND_WORKERS": "false" if separate_worker else "true",
        }
        self.running: list[subprocess.Popen[bytes]] = []
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the processes (both at once: each takes seconds to import) and wait for the API."""
        self.starts += 1
        self.running = [self._spawn("serve", "--host", "127.0.0.1", "--port", str(self.port))]
        if self.separate_worker:
            self.running.append(self._spawn("projections", "run", "--poll-interval", "0.1"))
        self._wait_healthy()

    def crash(self) -> None:
        """kill -9 every process, as a power cut or the OOM killer would."""
        for process in self.running:
            process.kill()
        for process in self.running:
            process.wait(STOP_TIMEOUT)
        self.running = []

    def stop(self) -> list[int]:
        """SIGTERM every process and wait; their exit codes."""
        for process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = []
        for process in self.running:
            try:
                codes.append(process.wait(STOP_TIMEOUT))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT)
                raise ProcessError(f"{process.args} did not stop on SIGTERM") from None
        self.running = []
        return codes

    def logs(self) -> dict[str, str]:
        return {path.name: path.read_text(errors="replace") for path in self.folder.glob("*.log")}

    def _spawn(self, *arguments: str) -> subprocess.Popen[bytes]:
        log = self.folder / f"{arguments[0]}-{self.starts}.log"
        with log.open("wb") as sink:
            return subprocess.Popen(
                [mediation_command(), *arguments],
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for process in self.running:
                if process.poll() is not None:
                    raise ProcessError(f"{process.args} exited ({process.returncode}) at start")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise ProcessError(f"mediation serve did not answer within {START_TIMEOUT:.0f} s")


def mediation_command() -> str:
    """The `mediation` script of this interpreter's environment."""
    beside = Path(sys.executable).with_name("mediation")
    found = str(beside) if beside.exists() else shutil.which("mediation")
    if found is None:
        raise ProcessError("the `mediation` command is not installed (pip install -e .)")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
