"""Configuration: one TOML file, validated once at the edge into frozen data classes.

Every problem becomes a `ConfigError` whose message is one line naming the key and why,
so the command line can print it and exit non-zero without a traceback.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from intake.addresses import BadAddress, check_address

ENV_CONFIG = "REPORT_INTAKE_CONFIG"

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConfigError(Exception):
    """A bad config: the message is one line naming the key and the reason."""


@dataclass(frozen=True)
class MailboxConfig:
    type: str = "imap"
    host: str = ""
    port: int = 993
    security: str = "ssl"
    username: str = ""
    password: str = field(default="", repr=False)
    folder: str = "INBOX"
    path: Path | None = None
    after_record: str = "flag"
    move_to: str = "Recorded"
    batch_size: int = 50
    max_message_mb: int = 60
    timeout: float = 30.0
    analysis_seconds: float = 60.0
    analysis_memory_mb: int = 1024


@dataclass(frozen=True)
class SmtpConfig:
    host: str = ""
    port: int = 465
    security: str = "ssl"
    username: str = ""
    password: str = field(default="", repr=False)
    sender: str = ""
    sender_name: str = ""
    timeout: float = 30.0

    @property
    def configured(self) -> bool:
        return bool(self.host and self.sender)


@dataclass(frozen=True)
class ScheduleConfig:
    poll_interval: int = 300
    reminders_at: time = time(9, 0)
    digest_weekday: str = "mon"
    digest_at: time = time(8, 30)
    outbox_interval: int = 60
    idle: bool = True


@dataclass(frozen=True)
class RemindersConfig:
    enabled: bool = True
    month_start: bool = True
    days_before: tuple[int, ...] = (7, 2)
    overdue_after: tuple[int, ...] = (1, 7)
    copy_staff: bool = True
    working_days_only: bool = True


@dataclass(frozen=True)
class ReceiptsConfig:
    enabled: bool = True
    max_per_sender_per_day: int = 3
    max_per_hour: int = 30
    max_age_days: int = 7  # older mail is recorded but never answered


@dataclass(frozen=True)
class DigestConfig:
    recipients: tuple[str, ...] = ()
    thumbnails_per_report: int = 12
    list_limit: int = 100  # longest list shown in full (units that need action: always all)
    photo_reports: int = 20  # new reports shown with their photos; the rest as one line


@dataclass(frozen=True)
class WatchConfig:
    failures_before_alert: int = 3
    quiet_days: int = 7
    heartbeat_url: str = ""  # Healthchecks-style: GET after a good poll, GET /fail after a bad one


@dataclass(frozen=True)
class WebConfig:
    """The staff board (`report-intake web`)."""

    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str = ""  # the address staff use, e.g. "https://report.office.lan"; "" = unset
    secret_key: str = field(default="", repr=False)  # "" = kept in the storage dir
    threads: int = 4

    @property
    def listen(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def link(self, path: str) -> str:
        """An absolute link to a board page ("" when base_url is not set)."""
        if not self.base_url:
            return ""
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")


@dataclass(frozen=True)
class MatchingConfig:
    # a report from an address the unit has never used: "count" it (marked 新发件地址,
    # the unit's known addresses told) or send it to "review"
    new_sender: str = "count"


@dataclass(frozen=True)
class Config:
    path: Path
    timezone: ZoneInfo
    own_addresses: tuple[str, ...]
    staff: tuple[str, ...]
    mailbox: MailboxConfig
    smtp: SmtpConfig
    database_url: str
    storage_dir: Path
    roster_file: Path  # the first of roster_files
    templates_dir: Path | None
    schedule: ScheduleConfig
    reminders: RemindersConfig
    receipts: ReceiptsConfig
    digest: DigestConfig
    watch: WatchConfig
    log_level: str = "INFO"
    warnings: tuple[str, ...] = ()  # one line each: logged at start, shown by check-config
    web: WebConfig = field(default_factory=WebConfig)
    matching: MatchingConfig = MatchingConfig()
    roster_files: tuple[Path, ...] = ()  # one per campaign ([roster] files, or file)


# --- reading helpers -------------------------------------------------------------------


class _Table:
    """One TOML table with strict typed getters; unknown keys are errors."""

    def __init__(self, name: str, data: Any, known: set[str]) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"[{name}] must be a table")
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"[{name}] {unknown[0]}: unknown key")
        self.name = name
        self.data = data

    def where(self, key: str) -> str:
        return f"[{self.name}] {key}"

    def get(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        if key not in self.data:
            return default
        value = self.data[key]
        if kind is int and isinstance(value, bool):
            raise ConfigError(f"{self.where(key)}: must be a whole number, not {value!r}")
        if not isinstance(value, kind):
            names = {str: "a string", int: "a whole number", bool: "true or false", list: "a list"}
            want = names.get(kind, str(kind)) if isinstance(kind, type) else "a number"
            raise ConfigError(f"{self.where(key)}: must be {want}, not {value!r}")
        return value

    def string(self, key: str, default: str = "") -> str:
        return str(self.get(key, str, default)).strip()

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.string(key, default)
        if value not in choices:
            allowed = " | ".join(f'"{c}"' for c in choices)
            raise ConfigError(f"{self.where(key)}: must be {allowed}, not {value!r}")
        return value

    def integer(self, key: str, default: int, lo: int, hi: int) -> int:
        value = int(self.get(key, int, default))
        if not lo <= value <= hi:
            raise ConfigError(f"{self.where(key)}: must be between {lo} and {hi}, not {value}")
        return value

    def number(self, key: str, default: float, lo: float, hi: float) -> float:
        value = self.get(key, (int, float), default)
        if isinstance(value, bool) or not lo <= float(value) <= hi:
            raise ConfigError(f"{self.where(key)}: must be a number from {lo} to {hi}")
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        return bool(self.get(key, bool, default))

    def clock_time(self, key: str, default: time) -> time:
        if key not in self.data:
            return default
        value = self.data[key]
        if isinstance(value, time):
            return value
        if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
            hh, mm = (int(p) for p in value.strip().split(":"))
            if hh < 24 and mm < 60:
                return time(hh, mm)
        raise ConfigError(
            f'{self.where(key)}: must be a time of day such as "09:00", not {value!r}'
        )

    def int_list(self, key: str, default: tuple[int, ...], lo: int, hi: int) -> tuple[int, ...]:
        value = self.get(key, list, list(default))
        out = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, int) or not lo <= item <= hi:
                raise ConfigError(f"{self.where(key)}: must list whole numbers from {lo} to {hi}")
            out.append(item)
        return tuple(sorted(set(out), reverse=True))

    def addresses(self, key: str) -> tuple[str, ...]:
        value = self.get(key, list, [])
        out = []
        for item in value:
            if not isinstance(item, str):
                raise ConfigError(f"{self.where(key)}: {item!r} is not an email address")
            try:
                out.append(check_address(item))
            except BadAddress as exc:
                raise ConfigError(
                    f"{self.where(key)}: {item[:80]!r} is not an email address ({exc})"
                ) from None
        return tuple(out)

    def address(self, key: str) -> str:
        value = self.string(key)
        if not value:
            return ""
        try:
            return check_address(value)
        except BadAddress as exc:
            raise ConfigError(
                f"{self.where(key)}: {value[:80]!r} is not an email address ({exc})"
            ) from None

    def path(self, key: str, base: Path, default: str | None) -> Path | None:
        value = self.get(key, str, default)
        if value is None or value == "":
            return None
        p = Path(os.path.expanduser(value))
        return p if p.is_absolute() else (base / p)

    def secret(self, key: str, base: Path, credential: str) -> str:
        """`key` inline, `key_file` from a file, or a systemd credential named `credential`."""
        inline = self.get(key, str, "")
        file_key = f"{key}_file"
        file_value = self.path(file_key, base, None)
        if inline and file_value:
            raise ConfigError(f"{self.where(key)}: give {key} or {file_key}, not both")
        if file_value is not None:
            try:
                mode = file_value.stat().st_mode
                if mode & stat.S_IROTH:
                    raise ConfigError(
                        f"{self.where(file_key)}: {file_value} is readable by other users; "
                        f"run chmod o-rwx on it (600 is best)"
                    )
                return file_value.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"{self.where(file_key)}: cannot read {file_value}: {exc.strerror}"
                ) from None
        if inline:
            return str(inline)
        cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
        if cred_dir and (Path(cred_dir) / credential).is_file():
            return (Path(cred_dir) / credential).read_text(encoding="utf-8").strip()
        return ""


_TABLES: dict[str, set[str]] = {
    "office": {"timezone", "addresses", "staff"},
    "mailbox": {
        "type", "host", "port", "security", "username", "password", "password_file",
        "folder", "path", "after_record", "move_to", "batch_size", "max_message_mb", "timeout",
        "analysis_seconds", "analysis_memory_mb",
    },
    "smtp": {
        "host", "port", "security", "username", "password", "password_file", "from",
        "from_name", "timeout",
    },
    "database": {"url"},
    "storage": {"dir"},
    "roster": {"file", "files"},
    "templates": {"dir"},
    "schedule": {
        "poll_interval", "reminders_at", "digest_weekday", "digest_at", "outbox_interval",
        "idle",
    },
    "reminders": {
        "enabled", "month_start", "days_before", "overdue_after", "copy_staff",
        "working_days_only",
    },
    "receipts": {"enabled", "max_per_sender_per_day", "max_per_hour", "max_age_days"},
    "digest": {"recipients", "thumbnails_per_report", "list_limit", "photo_reports"},
    "watch": {"failures_before_alert", "quiet_days", "heartbeat_url"},
    "logging": {"level"},
    "web": {"listen", "base_url", "secret_key", "secret_key_file", "threads"},
    "matching": {"new_sender"},
}  # fmt: skip

_SECURITY_PORTS = {"ssl": (993, 465), "starttls": (143, 587), "none": (143, 25)}


def find_config_path(explicit: str | os.PathLike[str] | None) -> Path:
    """The config path from `--config`, else $REPORT_INTAKE_CONFIG, else a clear error."""
    value = explicit or os.environ.get(ENV_CONFIG)
    if not value:
        raise ConfigError(f"no config file: pass --config PATH or set {ENV_CONFIG}")
    return Path(value)


def load_config(path: str | os.PathLike[str]) -> Config:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: not found") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    return parse_config(data, path.resolve())


def parse_config(data: Mapping[str, Any], path: Path) -> Config:
    unknown = sorted(set(data) - set(_TABLES))
    if unknown:
        raise ConfigError(f"[{unknown[0]}]: unknown table")
    base = path.parent

    def table(name: str) -> _Table:
        return _Table(name, data.get(name), _TABLES[name])

    office = table("office")
    tz_name = office.string("timezone", "Asia/Shanghai")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"[office] timezone: unknown time zone {tz_name!r}") from None

    storage = table("storage")
    storage_dir = storage.path("dir", base, "data")
    assert storage_dir is not None

    roster_t = table("roster")
    roster_file = roster_t.path("file", base, None)
    roster_files: tuple[Path, ...] = ()
    if "files" in roster_t.data:
        if roster_file is not None:
            raise ConfigError("[roster]: give file or files, not both")
        listed = roster_t.get("files", list, [])
        if not listed or not all(isinstance(f, str) and f.strip() for f in listed):
            raise ConfigError(
                f"{roster_t.where('files')}: must list roster files (one per campaign)"
            )
        roster_files = tuple(
            p if (p := Path(os.path.expanduser(f.strip()))).is_absolute() else base / p
            for f in listed
        )
        roster_file = roster_files[0]
    if roster_file is None:
        raise ConfigError("[roster] file: missing (the roster of units, a TOML file)")
    roster_files = roster_files or (roster_file,)

    db = table("database")
    url = db.string("url", "")
    if not url:
        url = f"sqlite:///{storage_dir / 'report-intake.sqlite3'}"
    elif not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
        raise ConfigError(
            f"[database] url: must start with sqlite:/// or postgresql://, not {url!r}"
        )
    elif url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rel = url[len("sqlite:///") :]
        if rel and rel != ":memory:":
            url = f"sqlite:///{base / rel}"
    _check_database_url(url)

    mailbox = _mailbox(table("mailbox"), base)
    smtp = _smtp(table("smtp"), base)

    sched = table("schedule")
    schedule = ScheduleConfig(
        poll_interval=sched.integer("poll_interval", 300, 10, 86400),
        reminders_at=sched.clock_time("reminders_at", time(9, 0)),
        digest_weekday=sched.choice("digest_weekday", WEEKDAYS, "mon"),
        digest_at=sched.clock_time("digest_at", time(8, 30)),
        outbox_interval=sched.integer("outbox_interval", 60, 5, 3600),
        idle=sched.boolean("idle", True),
    )
    rem = table("reminders")
    reminders = RemindersConfig(
        enabled=rem.boolean("enabled", True),
        month_start=rem.boolean("month_start", True),
        days_before=rem.int_list("days_before", (7, 2), 0, 27),
        overdue_after=rem.int_list("overdue_after", (1, 7), 1, 60),
        copy_staff=rem.boolean("copy_staff", True),
        working_days_only=rem.boolean("working_days_only", True),
    )
    rec = table("receipts")
    receipts = ReceiptsConfig(
        enabled=rec.boolean("enabled", True),
        max_per_sender_per_day=rec.integer("max_per_sender_per_day", 3, 0, 100),
        max_per_hour=rec.integer("max_per_hour", 30, 0, 10000),
        max_age_days=rec.integer("max_age_days", 7, 1, 3650),
    )
    dig = table("digest")
    digest = DigestConfig(
        recipients=dig.addresses("recipients"),
        thumbnails_per_report=dig.integer("thumbnails_per_report", 12, 0, 100),
        list_limit=dig.integer("list_limit", 100, 5, 10000),
        photo_reports=dig.integer("photo_reports", 20, 0, 1000),
    )
    wat = table("watch")
    watch = WatchConfig(
        failures_before_alert=wat.integer("failures_before_alert", 3, 1, 1000),
        quiet_days=wat.integer("quiet_days", 7, 1, 365),
        heartbeat_url=_heartbeat_url(wat),
    )
    log = table("logging")
    level = log.choice("level", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO")
    matching = MatchingConfig(
        new_sender=table("matching").choice("new_sender", ("count", "review"), "count")
    )

    own = list(office.addresses("addresses"))
    if mailbox.type == "imap" and "@" in mailbox.username:
        own.append(mailbox.username.lower())
    if smtp.sender:
        own.append(smtp.sender.lower())
    staff = office.addresses("staff")

    return Config(
        path=path,
        timezone=tz,
        own_addresses=tuple(dict.fromkeys(own)),
        staff=staff,
        mailbox=mailbox,
        smtp=smtp,
        database_url=url,
        storage_dir=storage_dir,
        roster_file=roster_file,
        roster_files=roster_files,
        templates_dir=_templates_dir(table("templates"), base),
        schedule=schedule,
        reminders=reminders,
        receipts=receipts,
        digest=digest,
        watch=watch,
        log_level=level,
        matching=matching,
        warnings=_plain_text_warnings(mailbox, smtp),
        web=_web(table("web"), base),
    )


_LISTEN = re.compile(r"^(?:\[([0-9a-fA-F:]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$")
_BASE_URL = re.compile(r"^https?://[^\s/?#]+(?:/[^\s?#]*)?$")


def _web(t: _Table, base: Path) -> WebConfig:
    listen = t.string("listen", "127.0.0.1:8080")
    m = _LISTEN.match(listen)
    port = int(m.group(3)) if m else 0
    if m is None or not 1 <= port <= 65535:
        raise ConfigError(
            f'[web] listen: must be HOST:PORT such as "127.0.0.1:8080", not {listen!r}'
        )
    base_url = t.string("base_url").rstrip("/")
    if base_url and not _BASE_URL.match(base_url):
        raise ConfigError(
            f'[web] base_url: must be an http(s) address such as "https://report.office.lan", '
            f"not {base_url!r}"
        )
    return WebConfig(
        host=m.group(1) or m.group(2),
        port=port,
        base_url=base_url,
        secret_key=t.secret("secret_key", base, "web-secret"),
        threads=t.integer("threads", 4, 1, 64),
    )


def _check_database_url(url: str) -> None:
    """A malformed URL (a port that is not a number, an unknown driver) is one line here,
    not a traceback later. The message never repeats the URL: it may hold a password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(url).get_dialect()
    except NoSuchModuleError as exc:
        raise ConfigError(f"[database] url: unknown database driver ({exc})") from None
    except (ArgumentError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "@" in reason or "://" in reason:
            reason = type(exc).__name__
        raise ConfigError(f"[database] url: not a valid database URL ({reason})") from None


def _loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _plain_text_warnings(mailbox: MailboxConfig, smtp: SmtpConfig) -> tuple[str, ...]:
    """`security = "none"` sends the password in clear: fine on loopback only."""
    out = []
    if mailbox.type == "imap" and mailbox.security == "none" and not _loopback(mailbox.host):
        out.append(
            f'[mailbox] security = "none": the password and all mail cross the network '
            f"to {mailbox.host} unencrypted; use ssl or starttls"
        )
    if smtp.configured and smtp.security == "none" and not _loopback(smtp.host):
        out.append(
            f'[smtp] security = "none": the password and all mail cross the network '
            f"to {smtp.host} unencrypted; use ssl or starttls"
        )
    return tuple(out)


def _templates_dir(t: _Table, base: Path) -> Path | None:
    """The override folder for the email templates. Templates are code: a folder (or a
    template in it) that group or others can write is refused."""
    folder = t.path("dir", base, None)
    if folder is None:
        return None
    try:
        entries = [folder, *folder.iterdir()] if folder.is_dir() else [folder]
        for entry in entries:
            mode = entry.stat().st_mode
            if mode & (stat.S_IWGRP | stat.S_IWOTH):
                raise ConfigError(
                    f"[templates] dir: {entry} is writable by group or others; run chmod go-w on it"
                )
    except FileNotFoundError:
        raise ConfigError(f"[templates] dir: {folder} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"[templates] dir: cannot read {folder}: {exc.strerror}") from None
    return folder


def _heartbeat_url(t: _Table) -> str:
    """A Healthchecks-style ping URL (http or https, a host, no spaces or quotes)."""
    from urllib.parse import urlsplit

    url = t.string("heartbeat_url")
    if not url:
        return ""
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() or c in "<>\"'\\" for c in url)
    ):
        raise ConfigError(f"[watch] heartbeat_url: must be an http:// or https:// URL, not {url!r}")
    return url


def _mailbox(t: _Table, base: Path) -> MailboxConfig:
    kind = t.choice("type", ("imap", "maildir"), "imap")
    after = t.choice("after_record", ("flag", "move", "none"), "flag")
    batch = t.integer("batch_size", 50, 1, 1000)
    cap = t.integer("max_message_mb", 60, 1, 2000)
    seconds = t.number("analysis_seconds", 60.0, 1.0, 3600.0)
    memory = t.integer("analysis_memory_mb", 1024, 128, 65536)
    if kind == "maildir":
        path = t.path("path", base, None)
        if path is None:
            raise ConfigError('[mailbox] path: missing (type = "maildir" needs the Maildir folder)')
        return MailboxConfig(
            type=kind,
            path=path,
            after_record=after,
            batch_size=batch,
            max_message_mb=cap,
            analysis_seconds=seconds,
            analysis_memory_mb=memory,
        )
    security = t.choice("security", ("ssl", "starttls", "none"), "ssl")
    host = t.string("host")
    if not host:
        raise ConfigError('[mailbox] host: missing (the IMAP server, e.g. "imap.126.com")')
    username = t.string("username")
    if not username:
        raise ConfigError("[mailbox] username: missing (the mailbox address)")
    password = t.secret("password", base, "imap-password")
    if not password:
        raise ConfigError(
            "[mailbox] password: missing (set password, password_file, "
            "or a systemd credential named imap-password)"
        )
    return MailboxConfig(
        type=kind,
        host=host,
        port=t.integer("port", _SECURITY_PORTS[security][0], 1, 65535),
        security=security,
        username=username,
        password=password,
        folder=t.string("folder", "INBOX") or "INBOX",
        after_record=after,
        move_to=t.string("move_to", "Recorded") or "Recorded",
        batch_size=batch,
        max_message_mb=cap,
        timeout=t.number("timeout", 30.0, 1.0, 600.0),
        analysis_seconds=seconds,
        analysis_memory_mb=memory,
    )


def _smtp(t: _Table, base: Path) -> SmtpConfig:
    if not t.data:
        return SmtpConfig()
    security = t.choice("security", ("ssl", "starttls", "none"), "ssl")
    host = t.string("host")
    if not host:
        raise ConfigError('[smtp] host: missing (the SMTP server, e.g. "smtp.126.com")')
    sender = t.address("from")
    if not sender:
        raise ConfigError("[smtp] from: missing (the address mail is sent from)")
    return SmtpConfig(
        host=host,
        port=t.integer("port", _SECURITY_PORTS[security][1], 1, 65535),
        security=security,
        username=t.string("username"),
        password=t.secret("password", base, "smtp-password"),
        sender=sender,
        sender_name=t.string("from_name"),
        timeout=t.number("timeout", 30.0, 1.0, 600.0),
    )
