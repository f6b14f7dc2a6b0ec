"""Real `mediation serve` processes on loopback, started for a measurement and stopped after.

One API process keeps the views and runs the rules itself (the default). Several API
processes run with MEDIATION_BACKGROUND_WORKERS=false beside one `mediation projections run`
worker, as the settings describe for that deployment.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2

START_TIMEOUT = 60.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ServerError(RuntimeError):
    """A process did not come up; carries the end of its log."""


class Process:
    """One `mediation ...` process, its output in a log file."""

    def __init__(self, arguments: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.name = f"mediation {arguments[0]}"
        with log.open("wb") as sink:
            self.process = subprocess.Popen(
                [_mediation(), *arguments],
                env=os.environ | env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def cpu_seconds(self) -> float:
        """User and system CPU the process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise ServerError(
                f"{self.name} exited ({self.process.returncode}): "
                f"{self.log.read_text(errors='replace')[-2000:]}"
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class ApiServer(Process):
    """`mediation serve` on 127.0.0.1 at a free port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        super().__init__(["serve", "--host", "127.0.0.1", "--port", str(self.port)], env, log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if httpx2.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.1)
        raise ServerError(f"mediation serve did not answer within {START_TIMEOUT:.0f} s")


@dataclass(frozen=True)
class Deployment:
    servers: list[ApiServer]
    processes: list[Process]  # the servers and any worker

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self.servers]

    def cpu_seconds(self) -> float:
        return sum(process.cpu_seconds() for process in self.processes)


@contextmanager
def serving(database_url: str, count: int) -> Iterator[Deployment]:
    """`count` API processes over one database, started one after the other (the first
    creates any missing tables), each answering /api/v1/health before the next starts."""
    env = {"MEDIATION_DATABASE_URL": database_url, "MEDIATION_LOG_LEVEL": "WARNING"}
    if count > 1:
        env["MEDIATION_BACKGROUND_WORKERS"] = "false"
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as folder, ExitStack() as stack:
        servers: list[ApiServer] = []
        for index in range(count):
            server = ApiServer(env, Path(folder) / f"serve-{index}.log")
            stack.callback(server.stop)
            server.wait_healthy()
            servers.append(server)
        processes: list[Process] = list(servers)
        if count > 1:
            worker = Process(["projections", "run"], env, Path(folder) / "projections.log")
            stack.callback(worker.stop)
            time.sleep(1.0)
            worker.check_alive()
            processes.append(worker)
        yield Deployment(servers, processes)


def _mediation() -> str:
    """The `mediation` command of this interpreter's environment."""
    beside = Path(sys.executable).with_name("mediation")
    if beside.exists():
        return str(beside)
    found = shutil.which("mediation")
    if found is None:
        raise ServerError("the `mediation` command is not installed (pip install -e .)")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
