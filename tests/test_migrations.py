"""Schema upgrades keep the data: a database made at the first revision, filled, then
upgraded to the head, on SQLite and PostgreSQL; and the models match the migrations."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from tracker.db import alembic_config, head_revision, make_engine, open_database
from tracker.models import Base


def test_upgrade_from_the_first_revision_keeps_units_slots_and_messages(database_url: str) -> None:
    engine = make_engine(database_url)
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO unit (id, name, kind, central, aliases, active) "
                "VALUES (1, '县林业局', 'department', false, '[]', true)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO slot (id, unit_id, period, due, scheduled, excused, note) "
                "VALUES (1, 1, '2023-05', '2023-05-25', true, true, '机构调整')"
            )
        )
    engine.dispose()
    db = open_database(database_url)  # upgrades to the head
    try:
        with db.engine.connect() as conn:
            rev = MigrationContext.configure(conn).get_current_revision()
            assert rev == head_revision()
            row = conn.execute(text("SELECT period, excused, note, moved_from FROM slot")).one()
            assert tuple(row) == ("2023-05", True, "机构调整", None)
            assert conn.execute(text("SELECT count(*) FROM audit")).scalar() == 0
            assert conn.execute(text("SELECT count(*) FROM board_user")).scalar() == 0
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], diff
    finally:
        db.dispose()
