"""Wiring: from a config file to the objects the commands and the daemon use."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.clock import Clock
from tracker.config import Config, load_config
from tracker.db import Database, open_database, retrying
from tracker.models import ServiceState
from tracker.roster import Roster
from tracker.slots import sync_roster
from tracker.startcache import load_roster_cached, roster_fingerprint

if TYPE_CHECKING:  # imported where used: a command that reads the database needs neither
    from intake.mailbox import MailSource
    from intake.store import AttachmentStore
    from tracker.recording import OnRecorded, Recorder

log = logging.getLogger(__name__)

ROSTER_SYNCED = "roster_synced"  # service_state row: the roster's fingerprint at the last sync


@dataclass
class App:
    """Config, roster, database and store of one installation, opened lazily."""

    config: Config

    @classmethod
    def from_path(cls, path: str | Path) -> App:
        return cls(load_config(path))

    @property
    def cache_dir(self) -> Path:
        return self.config.storage_dir / "cache"

    @property
    def roster_paths(self) -> tuple[Path, ...]:
        return tuple(Path(p) for p in (self.config.roster_files or (self.config.roster_file,)))

    @cached_property
    def roster(self) -> Roster:
        return load_roster_cached(self.roster_paths, self.cache_dir)

    @cached_property
    def db(self) -> Database:
        db = open_database(self.config.database_url)

        def sync() -> None:
            # Only when the roster (or the code that syncs it) changed since the last sync,
            # or a migration ran: with a province's roster (6,000 units x 12 months) a
            # command's start is then one query, not seconds.
            try:
                fingerprint: str | None = roster_fingerprint(self.roster_paths)
            except OSError:
                fingerprint = None
            with db.session() as s:
                state = s.get(ServiceState, ROSTER_SYNCED)
                done = state is not None and state.value.get("sha256") == fingerprint
                if done and fingerprint and not db.migrated:
                    return
                sync_roster(s, self.roster)
                now = datetime.now(UTC)
                value = {"sha256": fingerprint or ""}
                if state is None:
                    s.add(ServiceState(name=ROSTER_SYNCED, value=value, updated_at=now))
                else:
                    state.value, state.updated_at = value, now

        retrying(sync)  # a concurrent first start may have created the same rows
        return db

    @cached_property
    def store(self) -> AttachmentStore:
        from intake.store import AttachmentStore

        self.config.storage_dir.mkdir(parents=True, exist_ok=True)
        store = AttachmentStore(self.config.storage_dir)
        store.sweep_temp()  # temp files of writes a crash interrupted
        return store

    def clock(self) -> Clock:
        return Clock(self.config.timezone)

    def source(self) -> MailSource:
        return make_source(self.config)

    def recorder(
        self, clock: Clock | None = None, *, on_recorded: OnRecorded | None = None, **kwargs: object
    ) -> Recorder:
        from tracker.recording import Recorder

        mb = self.config.mailbox
        return Recorder(
            self.db,
            self.store,
            self.roster,
            clock or self.clock(),
            own_addresses=self.config.own_addresses,
            batch_size=mb.batch_size,
            max_message_bytes=mb.max_message_mb * 1024 * 1024,
            analysis_seconds=mb.analysis_seconds,
            analysis_memory_bytes=mb.analysis_memory_mb * 1024 * 1024,
            on_recorded=on_recorded,
            new_sender=self.config.matching.new_sender,
            **kwargs,  # type: ignore[arg-type]
        )

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()


def make_source(config: Config) -> MailSource:
    from intake.mailbox import ImapSettings, ImapSource, MaildirSource

    mb = config.mailbox
    if mb.type == "maildir":
        assert mb.path is not None
        return MaildirSource(mb.path, after_record=mb.after_record)
    return ImapSource(
        ImapSettings(
            host=mb.host,
            port=mb.port,
            security=mb.security,
            username=mb.username,
            password=mb.password,
            folder=mb.folder,
            after_record=mb.after_record,
            move_to=mb.move_to,
            timeout=mb.timeout,
            id_support_email=config.smtp.sender or mb.username,
        )
    )
