"""Login, logout, and the guards every request passes: a login (else a redirect to
/login), a CSRF token on every POST (form field `csrf_token`), and no POST from a viewer."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from tracker.models import User
from tracker.users import login as check_login
from tracker.web.context import Viewer, clock
from tracker.web.context import session as db_session

bp = Blueprint("auth", __name__)

OPEN_ENDPOINTS = ("auth.login", "health.healthz", "static")
# POSTs a viewer may make: logging in and out
VIEWER_POSTS = ("auth.login", "auth.logout")


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return str(token)


def install(web: Flask) -> None:
    web.jinja_env.globals["csrf_token"] = csrf_token
    web.before_request(_guard)


def _guard() -> Response | None:
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        known = session.get("csrf", "")
        if not known or not sent or not hmac.compare_digest(str(known), sent):
            abort(400, description="页面已过期或请求来源不明（缺少安全令牌），请刷新页面后重试。")
    g.viewer = _load_viewer()
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if g.viewer is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if request.method == "POST" and not g.viewer.can_act and request.endpoint not in VIEWER_POSTS:
        abort(403, description="查看员只能查看，不能办理。")
    return None


def _load_viewer() -> Viewer | None:
    uid = session.get("uid")
    if not uid:
        return None
    with db_session() as s:
        user = s.get(User, uid)
        if user is None or not user.active or session.get("stamp") != _stamp(user):
            session.pop("uid", None)
            return None
        return Viewer(user.id, user.name, user.role)


def _stamp(user: User) -> str:
    """Changes when the password changes, so a new password ends the old sessions."""
    return user.password_hash[-12:]


def safe_next(target: str | None, default: str = "/") -> str:
    """A redirect target on this site only (a path), never another host."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    error = ""
    status = 200
    if request.method == "POST":
        name = request.form.get("username", "")[:64]
        password = request.form.get("password", "")[:1024]
        with db_session() as s:
            result = check_login(s, name, password, clock().now(), request.remote_addr or "")
            user = result.user
            if user is not None:
                session.clear()
                session.permanent = True
                session["uid"] = user.id
                session["stamp"] = _stamp(user)
                csrf_token()
                return redirect(safe_next(request.args.get("next")))
        if result.wait:
            error = f"登录失败次数过多，请 {result.wait} 秒后再试。"
        else:
            error = "用户名或密码不对。"
        status = 401
    return render_template("login.html", error=error), status  # type: ignore[return-value]


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    session.clear()
    flash("已退出登录。")
    return redirect(url_for("auth.login"))
