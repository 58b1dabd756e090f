"""Opening the database: engine, sessions, and Alembic migrations applied on open."""

from __future__ import annotations

import ast
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

T = TypeVar("T")

MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseError(Exception):
    """The database cannot be opened or migrated: one readable line."""


def alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url, pool_pre_ping=True)


class Database:
    def __init__(self, engine: Engine, *, migrated: bool = False) -> None:
        self.engine = engine
        self.migrated = migrated  # this open brought the schema up to date (Alembic ran)
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self._sessions() as s, s.begin():
            yield s

    def new_session(self) -> Session:
        return self._sessions()

    def dispose(self) -> None:
        self.engine.dispose()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


@cache
def head_from_files() -> str | None:
    """The newest revision, read from the migration files' text (no Alembic, no import of
    the files): the one no other names as its down_revision. None when that is not one
    plain answer (a merge, an unreadable file): then Alembic decides."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            return None
        found: dict[str, object] = {}
        for node in tree.body:
            target: ast.expr | None = node.target if isinstance(node, ast.AnnAssign) else None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
                try:
                    found[target.id] = ast.literal_eval(value) if value is not None else None
                except ValueError:
                    return None
        revision, down = found.get("revision"), found.get("down_revision")
        if not isinstance(revision, str):
            return None
        revisions.add(revision)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple | list):
            parents.update(d for d in down if isinstance(d, str))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def open_database(url: str, *, migrate: bool = True) -> Database:
    """Open (and by default migrate to the newest schema) the database at `url`.

    Two processes starting at once on a new database (the service and a staff command)
    may both try to migrate; the loser waits a moment and finds the schema in place.
    """
    try:
        engine = make_engine(url)
        migrated = retrying(lambda: _upgrade(engine)) if migrate else False
    except (OperationalError, ProgrammingError, IntegrityError) as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseError(f"database {safe_url(url)}: {reason}") from None
    return Database(engine, migrated=migrated)


def _upgrade(engine: Engine) -> bool:
    """Migrate to the newest schema; when the database is there already (every command
    after the first), one query says so and Alembic is not even imported."""
    head = head_from_files()
    if head is not None and _stamped(engine) == [head]:
        return False
    from alembic import command

    with engine.begin() as conn:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return True


def _stamped(engine: Engine) -> list[str]:
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version"))
            return [str(row[0]) for row in rows]
    except (OperationalError, ProgrammingError):  # a new database: no table yet
        return []


def retrying(step: Callable[[], T], attempts: int = 4) -> T:
    """Run a start-up step (migration, roster sync), retrying when a concurrent first
    start got there first."""
    for attempt in range(attempts):
        try:
            return step()
        except (OperationalError, ProgrammingError, IntegrityError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.3 * (attempt + 1))
    raise AssertionError("unreachable")


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]
