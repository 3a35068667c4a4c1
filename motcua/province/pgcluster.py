"""A throwaway PostgreSQL cluster in a folder of its own: for the tests, the
benchmark and the province demo, never for a province's real database (that is
Debian's own cluster, set up by the province's administrator; the hub only
needs its DSN).

The cluster listens on no TCP address, only on a unix socket inside its own
folder, and lets in whoever can reach that socket (trust): the socket is made
0700, so that is the user who runs it (and root). PostgreSQL refuses to run as
root, so started by root it runs as the `postgres` user (runuser): the folder
is then given to `postgres`, and every folder above it must let that user
through; a clone in root's home (0700) does not, so put the cluster under /tmp
(tests/support/postgres.py does). Started by anyone else it runs as that user.

`fsync=False` (tests only) makes PostgreSQL skip flushing to disk: a crash of
the machine may then lose committed data, which a test does not care about and
a province must never accept. A crash of PostgreSQL alone loses nothing even
then (the operating system still has what it wrote).

    python -m motcua.province.pgcluster start /tmp/motcua-pg 15432 motcua_province
    python -m motcua.province.pgcluster stop /tmp/motcua-pg
"""
from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

SUPERUSER = "postgres"   # the cluster's own superuser (a role name, not the OS user)
DB_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class ClusterError(RuntimeError):
    """The cluster could not be made or started; the message says what to do."""


def bin_dir() -> Path:
    """Debian's /usr/lib/postgresql/<version>/bin, the highest version installed;
    else the folder of an initdb on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: [int(x) for x in re.findall(r"\d+", Path(p).parts[-3])] or [0])
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise ClusterError("PostgreSQL's initdb not found: install the server "
                       "(apt-get install postgresql, or `make test`, which installs it)")


def _run_as() -> pwd.struct_passwd | None:
    """The OS user the cluster runs as when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise ClusterError("running as root, PostgreSQL must run as the `postgres` user, which "
                           "does not exist: install the postgresql package") from None


class Cluster:
    """One cluster in `directory` (data in directory/data, socket and log beside it)."""

    def __init__(self, directory: str | Path, port: int, fsync: bool = True,
                 settings: dict[str, str] | None = None):
        self.directory = Path(directory).resolve()
        self.port = int(port)
        self.fsync = fsync
        self.settings = dict(settings or {})
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.user = _run_as()
        self.bin = bin_dir()

    # -- the commands, as the right user -------------------------------------------------
    def _command(self, tool: str, *args: str) -> list[str]:
        cmd = [str(self.bin / tool), *args]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user.pw_name, "--", *cmd]
        return cmd

    def _run(self, tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        # cwd: a folder the postgres user can enter (not root's home), else tools warn
        done = subprocess.run(self._command(tool, *args), capture_output=True, text=True,
                              cwd=self.directory, timeout=timeout)
        if done.returncode != 0:
            tail = "\n".join(self._log_tail()) if tool == "pg_ctl" else ""
            raise ClusterError(f"{tool} {' '.join(args[:2])} failed: "
                               f"{(done.stderr or done.stdout).strip()}" + (f"\n{tail}" if tail else ""))
        return done

    def _log_tail(self, lines: int = 15) -> list[str]:
        try:
            return self.log.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return []

    # -- life cycle ------------------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def _prepare_directory(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o755)
        if self.user is None:
            return
        os.chown(self.directory, self.user.pw_uid, self.user.pw_gid)
        for parent in self.directory.parents:
            mode = parent.stat()
            if mode.st_uid != self.user.pw_uid and not mode.st_mode & stat.S_IXOTH:
                raise ClusterError(
                    f"{parent} does not let the postgres user through (mode {stat.filemode(mode.st_mode)}), "
                    f"so PostgreSQL, which runs as postgres when started by root, cannot reach "
                    f"{self.directory}; put the cluster under /tmp or another folder it can enter")

    def init(self) -> "Cluster":
        """Make the cluster if the folder does not hold one yet."""
        if self.initialised:
            return self
        self._prepare_directory()
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-instructions")
        conf = {
            "port": str(self.port),
            "listen_addresses": "''",                         # no TCP: the socket only
            "unix_socket_directories": f"'{self.directory}'",
            "unix_socket_permissions": "0700",
            "fsync": "on" if self.fsync else "off",
            "max_connections": "50",
            "logging_collector": "off",
        }
        if not self.fsync:
            # (synchronous_commit stays on: a commit survives PostgreSQL itself being
            # killed, which the hub's tests do; only a crash of the machine may lose it)
            conf.update({"full_page_writes": "off"})
        conf.update(self.settings)
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as f:
            f.write("\n# motcua.province.pgcluster\n" + "".join(f"{k} = {v}\n" for k, v in conf.items()))
        return self

    def running(self) -> bool:
        if not self.initialised:
            return False
        done = subprocess.run(self._command("pg_ctl", "status", "-D", str(self.data)),
                              capture_output=True, text=True, cwd=self.directory)
        return done.returncode == 0

    def start(self) -> "Cluster":
        self.init()
        if self.user is not None and not self.log.exists():
            self.log.touch()
            os.chown(self.log, self.user.pw_uid, self.user.pw_gid)
        if not self.running():
            self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60")
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            done = subprocess.run([str(self.bin / "pg_isready"), "-h", str(self.directory),
                                   "-p", str(self.port), "-U", SUPERUSER],
                                  capture_output=True, text=True)
            if done.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise ClusterError(f"PostgreSQL in {self.directory} is not ready after {timeout} s: "
                                   + "\n".join(self._log_tail()))
            time.sleep(0.1)

    def stop(self, mode: str = "fast") -> None:
        if self.running():
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "60")

    def kill(self) -> None:
        """Stop it as a crash would (immediate mode: no checkpoint); for outage tests."""
        self.stop("immediate")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- databases -------------------------------------------------------------------------
    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql:///{database}?host={self.directory}&port={self.port}&user={SUPERUSER}"

    def create_database(self, name: str, exist_ok: bool = True) -> str:
        """Create database `name` (if missing, with exist_ok) and return its DSN."""
        import psycopg
        if not DB_NAME_RE.match(name):
            raise ClusterError(f"database name {name!r}: use lower-case letters, digits and '_'")
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if exists and not exist_ok:
                raise ClusterError(f"database {name} already exists in {self.directory}")
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        import psycopg
        if not DB_NAME_RE.match(name):
            raise ClusterError(f"database name {name!r}: use lower-case letters, digits and '_'")
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def dump(self, database: str) -> str:
        """pg_dump of a database as SQL text (the privacy test greps it)."""
        done = subprocess.run([str(self.bin / "pg_dump"), "-h", str(self.directory), "-p", str(self.port),
                               "-U", SUPERUSER, "--no-owner", database],
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise ClusterError(f"pg_dump {database} failed: {done.stderr.strip()}")
        return done.stdout


def main(argv: list[str] | None = None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m motcua.province.pgcluster",
                                     description="A throwaway PostgreSQL cluster for the demo and tests.")
    sub = parser.add_subparsers(dest="action", required=True)
    s = sub.add_parser("start", help="make (if needed) and start the cluster, create the database, print its DSN")
    s.add_argument("directory")
    s.add_argument("port", type=int)
    s.add_argument("database", nargs="?", default="motcua_province")
    s.add_argument("--no-fsync", action="store_true", help="tests only: a machine crash may lose data")
    t = sub.add_parser("stop", help="stop the cluster in a folder")
    t.add_argument("directory")
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            cluster = Cluster(args.directory, args.port, fsync=not args.no_fsync).start()
            print(cluster.create_database(args.database))
        else:
            data = Path(args.directory).resolve() / "data"
            port = 0
            conf = data / "postgresql.conf"
            if conf.exists():
                ports = re.findall(r"^port = (\d+)", conf.read_text(), flags=re.M)
                port = int(ports[-1]) if ports else 0
            Cluster(args.directory, port).stop()
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
