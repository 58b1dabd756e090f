"""A heartbeat outside the box: a Healthchecks-style ping after every poll.

`[watch] heartbeat_url` (e.g. ``https://hc-ping.com/<uuid>``) gets a GET after each good
poll and a GET of ``<url>/fail`` after a failed one. The service on the other side
notices when the pings stop (the server, the service or the mailbox's 授权码 died) even
when no alert mail can leave. A ping that fails is logged and never fails the poll.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request

log = logging.getLogger(__name__)

TIMEOUT = 10.0
USER_AGENT = "report-intake heartbeat"


def ping_url(url: str, ok: bool) -> str:
    """The URL to GET: `url` itself after a good poll, `url/fail` after a failed one."""
    return url if ok else url.rstrip("/") + "/fail"


def ping(url: str, ok: bool, *, timeout: float = TIMEOUT) -> bool:
    """GET the heartbeat URL; True when the server answered 2xx. Never raises."""
    if not url:
        return False
    target = ping_url(url, ok)
    request = urllib.request.Request(target, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(1024)
            status = int(response.status)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        log.warning("heartbeat ping to %s failed: %s", _host(target), reason)
        return False
    if not 200 <= status < 300:
        log.warning("heartbeat ping to %s answered HTTP %s", _host(target), status)
        return False
    log.debug("heartbeat ping (%s) sent", "ok" if ok else "fail")
    return True


def _host(url: str) -> str:
    """The host only: a ping URL holds its check's secret id, which stays out of the log."""
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or "?"
