"""The staff board: a small Flask application, server-rendered (Jinja2, simplified Chinese),
one stylesheet, no JavaScript. `create_app(app)` builds it for one installation;
`report-intake web` serves it with waitress.

Blueprints: `auth` (login, logout, the login and CSRF guards), `pages` (what staff see),
`actions` (POST only: each calls one function of `tracker.staff`), `files` (attachments,
thumbnails, raw mail: downloads with a sandboxing CSP) and `health` (`/healthz`).
Business rules live in `tracker.staff`, `tracker.slots` and `tracker.users`, not here.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from flask import Flask, Response, render_template
from werkzeug.middleware.proxy_fix import ProxyFix

from tracker.app import App
from tracker.clock import Clock
from tracker.config import ConfigError

log = logging.getLogger(__name__)

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
FILE_CSP = "default-src 'none'; form-action 'none'; sandbox"
MIN_SECRET = 16


def secret_key(app: App) -> str:
    """The key that signs session cookies: `[web] secret_key_file` or the systemd credential
    `web-secret`, else one made once and kept in the storage dir (mode 0600)."""
    key = app.config.web.secret_key
    if key:
        if len(key) < MIN_SECRET:
            raise ConfigError(f"[web] secret_key: at least {MIN_SECRET} characters")
        return key
    path = app.config.storage_dir / "web-secret"
    try:
        return _read_or_make(path)
    except OSError as exc:
        raise ConfigError(
            f"[web] secret_key_file: cannot keep one in {path}: {exc.strerror}"
        ) from None


def _read_or_make(path: Path) -> str:
    if path.is_file():
        key = path.read_text(encoding="utf-8").strip()
        if len(key) >= MIN_SECRET:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key)
    log.info("board: made a new session key in %s", path)
    return key


def create_app(app: App, *, clock: Clock | None = None, as_of: date | None = None) -> Flask:
    """The board for `app`; `as_of` fixes "today" for the slots' states (`web --as-of`)."""
    from tracker.web import actions, auth, files, health, pages, picker

    web = Flask(__name__)
    web.config.update(
        SECRET_KEY=secret_key(app),
        SESSION_COOKIE_NAME="ri_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config.web.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=1024 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
    )
    web.extensions["report_intake"] = app
    web.extensions["report_intake_clock"] = clock or app.clock()
    web.jinja_env.autoescape = True
    for bp in (auth.bp, pages.bp, actions.bp, files.bp, health.bp):
        web.register_blueprint(bp)
    auth.install(web)
    pages.install_filters(web)
    picker.install(web, as_of)
    web.after_request(_security_headers)
    for code, title in ERROR_TITLES.items():
        web.register_error_handler(code, _error_page(code, title))
    # behind nginx on the same host: the client address and scheme from its headers
    web.wsgi_app = ProxyFix(web.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    return web


ERROR_TITLES = {
    400: "请求有误",
    403: "没有权限",
    404: "找不到页面",
    405: "不支持的请求",
    413: "提交的内容太大",
    500: "出错了",
}


def _error_page(code: int, title: str) -> Callable[[Exception], tuple[str, int]]:
    def handler(exc: Exception) -> tuple[str, int]:
        text = getattr(exc, "description", "") if code != 500 else ""
        if not text or not any("\u4e00" <= ch <= "\u9fff" for ch in text):
            text = {404: "要找的内容不存在。", 500: "服务器处理出错，已记入日志。"}.get(code, "")
        return render_template("error.html", code=code, title=title, text=text), code

    return handler


def _security_headers(resp: Response) -> Response:
    resp.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Referrer-Policy"] = "same-origin"
    resp.headers.setdefault("Cache-Control", "no-store")
    return resp
