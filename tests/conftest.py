"""Shared fixtures: real Dovecot (tests.dovecot), real PostgreSQL and SQLite databases,
the example roster, and a workspace config to run commands against."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.dovecot"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_ROSTER = ROOT / "tracker" / "data" / "roster.example.toml"

PG_USER = "report_intake_test"
PG_PASSWORD = "report-intake-test"
PG_HINT = (
    "PostgreSQL is not installed: run `apt-get install postgresql` "
    "(or set REPORT_INTAKE_TEST_POSTGRES=0 to run the SQLite half only)"
)


def _postgres_wanted() -> bool:
    return os.environ.get("REPORT_INTAKE_TEST_POSTGRES", "1") != "0"


def _pg_version() -> str | None:
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return versions[-1].split("/")[4] if versions else None


def _as_postgres(sql: str) -> None:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", "psql", "-v", "ON_ERROR_STOP=1", "-qc", sql],
        check=True,
        capture_output=True,
        cwd="/",
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL (Debian's cluster), started if needed; yields an admin URL."""
    version = _pg_version()
    if version is None or shutil.which("pg_ctlcluster") is None:
        pytest.fail(PG_HINT, pytrace=False)
    status = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
    line = next((row for row in status.splitlines() if row.split()[:2] == [version, "main"]), None)
    if line is None:
        subprocess.run(["pg_createcluster", version, "main"], check=True, capture_output=True)
        line = f"{version} main 5432 down"
    port = line.split()[2]
    if "online" not in line:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            check=True,
            capture_output=True,
        )
    for _ in range(50):
        ready = subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", port])
        if ready.returncode == 0:
            break
        time.sleep(0.2)
    _as_postgres(
        f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PG_USER}') THEN "
        f"CREATE ROLE {PG_USER} LOGIN SUPERUSER PASSWORD '{PG_PASSWORD}'; END IF; END$$;"
    )
    yield f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{port}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: every test that takes it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/report-intake.sqlite3"
        return
    if not _postgres_wanted():
        pytest.skip("REPORT_INTAKE_TEST_POSTGRES=0: PostgreSQL half skipped on request")
    import psycopg

    admin = request.getfixturevalue("postgres_server")
    name = f"ri_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{admin}/{name}"
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/report-intake.sqlite3"


@pytest.fixture
def roster_file() -> Path:
    return EXAMPLE_ROSTER
