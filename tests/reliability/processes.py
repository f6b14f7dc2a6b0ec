"""Real `mediation serve`, `mediation projections run` and `mediation rules run` processes.

The API (on loopback) and, when asked, separate workers for the views and the escalation
rules, over one database, each spawn with its own log file. `crash()` kills them all with
SIGKILL and `start()` brings them back, the API on the same ports. Like a service manager,
the deployment restarts a process that exits on its own (so the run goes on to its checks),
and records each such exit: a finding.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
MAX_RESTARTS = 10


class ProcessError(RuntimeError):
    """A process did not come up, or did not stop when asked."""


@dataclass
class Service:
    name: str
    arguments: tuple[str, ...]
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None


@dataclass(frozen=True)
class Exit:
    """A process that exited on its own (then restarted), and what it wrote."""

    name: str
    code: int
    log: Path


class Deployment:
    """API processes; with `separate_workers`, a projection worker and a rules worker too
    (several API processes need them: each would otherwise run its own)."""

    def __init__(
        self,
        database_url: str,
        folder: Path,
        separate_workers: bool,
        env: dict[str, str],
        api_processes: int = 1,
    ) -> None:
        self.folder = folder
        self.ports = [free_port() for _ in range(api_processes)]
        workers = separate_workers or api_processes > 1
        self.env = os.environ | env
        self.env |= {
            "MEDIATION_DATABASE_URL": database_url,
            "MEDIATION_LOG_LEVEL": "WARNING",
            "MEDIATION_BACKGROUND_WORKERS": "false" if workers else "true",
        }
        self.services = [
            Service(f"serve{i}", ("serve", "--host", "127.0.0.1", "--port", str(port)))
            for i, port in enumerate(self.ports)
        ]
        if workers:
            interval = self.env.get("MEDIATION_RULES_INTERVAL", "30")
            self.services += [
                Service("projections", ("projections", "run", "--poll-interval", "0.1")),
                Service("rules", ("rules", "run", "--interval", interval)),
            ]
        self.exits: list[Exit] = []
        self.spawned = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="deployment", daemon=True)

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def start(self) -> None:
        """Start every process at once (each takes seconds to import) and wait for the API."""
        with self._lock:
            for service in self.services:
                self._spawn(service)
        if not self._watcher.is_alive():
            self._watcher.start()
        self._wait_healthy()

    def crash(self) -> None:
        """kill -9 every process, as a power cut or the OOM killer would."""
        with self._lock:
            running = [s.process for s in self.services if s.process is not None]
            for process in running:
                process.kill()
            for process in running:
                process.wait(STOP_TIMEOUT)
            for service in self.services:
                service.process = None

    def stop(self) -> list[int]:
        """SIGTERM every process and wait; their exit codes."""
        self._closing.set()
        with self._lock:
            running = [s.process for s in self.services if s.process is not None]
            for service in self.services:
                service.process = None
        for process in running:
            process.send_signal(signal.SIGTERM)
        codes = []
        for process in running:
            try:
                codes.append(process.wait(STOP_TIMEOUT))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT)
                raise ProcessError(f"{process.args!r} did not stop on SIGTERM") from None
        return codes

    def logs(self) -> dict[Path, str]:
        return {path: path.read_text(errors="replace") for path in self.folder.glob("*.log")}

    def _spawn(self, service: Service) -> None:
        self.spawned += 1
        service.log = self.folder / f"{service.name}-{self.spawned}.log"
        with service.log.open("wb") as sink:
            service.process = subprocess.Popen(
                [mediation_command(), *service.arguments],
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def _watch(self) -> None:
        """Restart any process that exits on its own, as systemd's Restart=on-failure would."""
        while not self._closing.wait(0.2):
            with self._lock:
                for service in self.services:
                    process = service.process
                    if process is None or process.poll() is None or service.log is None:
                        continue
                    self.exits.append(Exit(service.name, process.returncode, service.log))
                    service.process = None
                    if len(self.exits) <= MAX_RESTARTS:
                        self._spawn(service)

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        waiting = list(self.urls)
        while waiting and time.monotonic() < deadline:
            waiting = [url for url in waiting if not _healthy(url)]
            time.sleep(0.1)
        if waiting:
            raise ProcessError(f"mediation serve did not answer within {START_TIMEOUT:.0f} s")


def _healthy(url: str) -> bool:
    try:
        return httpx2.get(f"{url}/api/v1/health", timeout=2).status_code == 200
    except httpx2.TransportError:
        return False


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
