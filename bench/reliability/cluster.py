"""A PostgreSQL cluster of the harness's own (initdb in a temporary directory, a free port on
loopback), which it may stop and start at will: never the machine's shared server."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.common import free_port


def bin_dir() -> Path:
    """Where PostgreSQL's server programs are (pg_ctl on the PATH, or Debian's versioned folder)."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not folders:
        raise SystemExit("the database outage needs PostgreSQL's server programs (pg_ctl, initdb)")
    return Path(folders[-1])


class Cluster:
    """``start``/``stop`` the server; ``url`` names its database ``nbo``. The server refuses to run
    as root, so under root it runs as the ``postgres`` user."""

    def __init__(self) -> None:
        self.bin = bin_dir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="nbo-cluster-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/nbo"

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / program), *args], check=True, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def create_database(self) -> None:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "nbo")

    def stop(self) -> None:
        """As a crash: no checkpoint, every connection cut; what was committed survives (the WAL)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self, keep_log: Path | None = None) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        if keep_log is not None and self.log.exists():
            shutil.copy(self.log, keep_log)
        shutil.rmtree(self.root, ignore_errors=True)
