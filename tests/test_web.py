"""The staff board through Flask's test client: login, CSRF, roles, every page, every staff
action and its undo with the audit rows, files and the headers that keep mail's content
from running as the board's own."""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.web_helpers import HOSTILE_SUBJECT, PASSWORDS, Client, csrf_of, make_workspace, run
from tracker.app import App
from tracker.clock import FixedClock
from tracker.models import Audit, Message, Slot, Unit, UnitAddress
from tracker.slots import slot_states
from tracker.web import create_app

AS_OF = date(2023, 6, 30)
AS_NOW = datetime(2023, 6, 30, 4, tzinfo=UTC)
PAGES = ["/", "/review", "/messages/10", "/units/县林业局", "/outbox", "/history", "/export"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("board-template")).parent


@pytest.fixture
def config(template: Path, tmp_path: Path) -> Path:
    shutil.copytree(template, tmp_path / "ws")
    return tmp_path / "ws" / "config.toml"


@pytest.fixture
def app(config: Path) -> Iterator[App]:
    a = App.from_path(config)
    yield a
    a.close()


def client_for(app: App) -> Client:
    web = create_app(app, clock=FixedClock.at_date(AS_OF))
    web.testing = True
    return Client(web.test_client())


@pytest.fixture
def clerk(app: App) -> Client:
    c = client_for(app)
    assert c.login("clerk").status_code == 302
    return c


@pytest.fixture
def viewer(app: App) -> Client:
    c = client_for(app)
    assert c.login("viewer").status_code == 302
    return c


def state_of(app: App, unit: str, period: str) -> tuple[str, list[int]]:
    with app.db.session() as s:
        rows = slot_states(s, as_of=AS_OF, tz=app.config.timezone, unit=unit, period=period)
    assert len(rows) == 1, rows
    return rows[0].state, [sub.message_id for sub in rows[0].submissions]


def audit_rows(app: App) -> list[Audit]:
    with app.db.session() as s:
        return list(s.scalars(select(Audit).order_by(Audit.id)))


def message_id_of(app: App, subject: str) -> int:
    with app.db.session() as s:
        mid = s.scalar(select(Message.id).where(Message.subject == subject))
    assert mid is not None
    return mid


def flashes(page: bytes) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", m.decode())
        for m in re.findall(rb'<p class="flash[^"]*">(.*?)</p>', page)
    ]


# --- login, sessions, guards ------------------------------------------------------------------


def test_it_answers_healthz_without_login(app: App) -> None:
    r = client_for(app).get("/healthz")
    assert r.status_code == 200
    body = r.data.decode()
    assert body.startswith("ok\n") and "database ok" in body and "last poll:" in body
    assert "s ago" in body  # the poll above was noted


@pytest.mark.parametrize("path", [*PAGES, "/files/1", "/thumbs/1", "/messages/1/raw"])
def test_it_redirects_every_page_to_login(app: App, path: str) -> None:
    r = client_for(app).get(path)
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/login?next=")


def test_it_logs_in_sets_safe_cookie_flags_and_logs_out(app: App) -> None:
    c = client_for(app)
    r = c.login("clerk")
    assert r.status_code == 302 and r.headers["Location"] == "/"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert c.get("/review").status_code == 200
    r = c.post("/logout")
    assert r.status_code == 302
    assert c.get("/review").status_code == 302


def test_it_marks_the_cookie_secure_behind_https(config: Path) -> None:
    text = config.read_text(encoding="utf-8")
    config.write_text(text + '[web]\nbase_url = "https://report.office.lan"\n', encoding="utf-8")
    a = App.from_path(config)
    try:
        r = client_for(a).login("clerk")
        assert "Secure" in r.headers["Set-Cookie"]
    finally:
        a.close()


def test_it_refuses_a_login_without_csrf_token(app: App) -> None:
    c = client_for(app)
    c.get("/login")
    r = c.c.post("/login", data={"username": "clerk", "password": PASSWORDS["clerk"]})
    assert r.status_code == 400
    assert c.get("/review").status_code == 302


def test_it_slows_and_logs_repeated_failed_logins(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    c = client_for(app)
    caplog.set_level(logging.WARNING, logger="tracker.users")
    for _ in range(3):
        r = c.login("clerk", "wrong-password")
        assert r.status_code == 401
    assert "秒后再试" in r.data.decode()  # the third failure in a row starts the waits
    # then each attempt must wait; the right password is not even checked meanwhile
    r = c.login("clerk")
    assert r.status_code == 401 and "秒后再试" in r.data.decode()
    assert sum("login failed" in rec.message for rec in caplog.records) == 3
    assert any("must wait" in rec.message for rec in caplog.records)
    # the password never reaches the log
    assert not any("wrong-password" in rec.getMessage() for rec in caplog.records)


def test_it_ends_sessions_of_a_disabled_user_and_after_a_password_change(
    app: App, config: Path
) -> None:
    c = client_for(app)
    c.login("clerk")
    run(config, "user", "passwd", "clerk", "--password-stdin", input="another-password\n")
    assert c.get("/").status_code == 302
    assert c.login("clerk", "another-password").status_code == 302
    run(config, "user", "disable", "clerk")
    assert c.get("/").status_code == 302
    assert c.login("clerk", "another-password").status_code == 401


def test_it_redirects_only_to_its_own_pages_after_login(app: App) -> None:
    for target, expected in (
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/review", "/review"),
    ):
        c = client_for(app)
        token = csrf_of(c.get("/login").data)
        r = c.c.post(
            f"/login?next={target}",
            data={"username": "clerk", "password": PASSWORDS["clerk"], "csrf_token": token},
        )
        assert r.headers["Location"] == expected


# --- pages ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_it_shows_every_page_to_both_roles(clerk: Client, viewer: Client, path: str) -> None:
    for c in (clerk, viewer):
        r = c.get(path)
        assert r.status_code == 200, path
        html = r.data.decode()
        assert 'lang="zh-CN"' in html and "<script" not in html.lower()
        csp = r.headers["Content-Security-Policy"]
        assert (
            "script-src" not in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
        )
        assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_overview_shows_the_grid_the_month_and_the_queue(clerk: Client, app: App) -> None:
    html = clerk.get("/").data.decode()
    assert "2023年6月报送情况" in html
    assert '<span class="cell s-received" title="已报送">✓</span>' in html
    assert 'href="/units/%E7%9F%B3%E6%BD%AD%E9%95%87"' in html  # 石潭镇 links to its page
    with app.db.session() as s:
        waiting = s.query(Message).filter(Message.decision == "review").count()
    assert waiting >= 3 and f"<b>{waiting}</b><span>待核邮件</span>" in html
    assert "最近收信" in html


def test_review_lists_waiting_mail_with_text_photos_and_guesses(clerk: Client, app: App) -> None:
    html = clerk.get("/review").data.decode()
    assert 'href="/messages/10"' in html and "活动照片" in html
    assert re.search(r'<img src="/thumbs/\d+"', html)
    assert "13912345678@163.com" in html
    assert 'list="units"' in html and '<option value="河口镇">' in html
    assert 'action="/messages/10/assign"' in html


def test_viewer_sees_no_action_forms_and_is_refused_any_post(viewer: Client, app: App) -> None:
    html = viewer.get("/review").data.decode()
    assert "/assign" not in html and "/ignore" not in html
    r = viewer.post("/messages/10/assign", {"unit": "河口镇", "period": "2023-05"})
    assert r.status_code == 403
    for path in ("/messages/10/ignore", "/units/县林业局/excuse", "/history/1/undo"):
        assert viewer.post(path, {"period": "2023-05"}).status_code == 403
    with app.db.session() as s:
        assert s.get(Message, 10).decision == "review"  # type: ignore[union-attr]
    assert audit_rows(app) == []


def test_mail_content_is_escaped_and_never_html(clerk: Client, app: App) -> None:
    mid = message_id_of(app, HOSTILE_SUBJECT)
    for path in ("/review", f"/messages/{mid}"):
        html = clerk.get(path).data.decode()
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;活动照片" in html
        assert "<script" not in html.lower()
        assert "<img src=x" not in html and "onerror=alert" not in html.replace(
            "&lt;img src=x onerror=alert", ""
        )
        assert "&lt;b&gt;不是粗体&lt;/b&gt;" in html  # the text part, as text
        assert "HTML正文" not in html  # the HTML part is not shown when there is text


def test_files_are_downloads_with_a_sandbox(clerk: Client, app: App) -> None:
    mid = message_id_of(app, HOSTILE_SUBJECT)
    with app.db.session() as s:
        atts = {a.filename: a.id for a in s.get(Message, mid).attachments}  # type: ignore[union-attr]
        photo = next(a for a in s.get(Message, 10).attachments if a.is_image)  # type: ignore[union-attr]
        photo_id = photo.id
    for name, att_id in atts.items():
        for query in ("", "?inline=1"):
            r = clerk.get(f"/files/{att_id}{query}")
            assert r.status_code == 200, name
            assert r.headers["Content-Disposition"].startswith("attachment")
            assert r.headers["Content-Type"] == "application/octet-stream"
            assert "sandbox" in r.headers["Content-Security-Policy"]
            assert r.headers["X-Content-Type-Options"] == "nosniff"
    r = clerk.get(f"/files/{photo_id}?inline=1")
    assert r.headers["Content-Type"] == "image/jpeg"
    assert r.headers["Content-Disposition"].startswith("inline")
    assert "sandbox" in r.headers["Content-Security-Policy"]
    assert clerk.get(f"/files/{photo_id}").headers["Content-Disposition"].startswith("attachment")
    r = clerk.get(f"/thumbs/{photo_id}")
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg"
    r = clerk.get(f"/messages/{mid}/raw")
    assert r.status_code == 200 and r.headers["Content-Disposition"].startswith("attachment")
    assert b"<script>" in r.data and r.headers["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize(
    "path",
    [
        "/messages/99999",
        "/files/99999",
        "/thumbs/99999",
        "/messages/99999/raw",
        "/units/不存在的单位",
        "/messages/abc",
    ],
)
def test_unknown_ids_are_404(clerk: Client, path: str) -> None:
    r = clerk.get(path)
    assert r.status_code == 404
    assert "找不到页面" in r.data.decode()


def test_export_streams_the_years_workbook_and_evidence_zip(clerk: Client) -> None:
    import io
    import zipfile

    r = clerk.get("/export.xlsx?year=2023")
    assert r.status_code == 200
    assert r.data[:2] == b"PK"
    assert r.headers["Content-Disposition"].startswith("attachment")
    r = clerk.get("/export.zip?year=2023")
    assert r.status_code == 200 and r.headers["Content-Disposition"].startswith("attachment")
    names = zipfile.ZipFile(io.BytesIO(r.data)).namelist()
    assert any(n.endswith(".xlsx") for n in names) and any(n.endswith(".jpg") for n in names)
    assert clerk.get("/export.xlsx?year=1999").status_code == 404


# --- actions, undo, audit -------------------------------------------------------------------


def test_assign_counts_the_mail_for_the_slot_and_undo_takes_it_back(
    clerk: Client, app: App
) -> None:
    assert state_of(app, "河口镇", "2023-05") == ("missing", [])
    r = clerk.post(
        "/messages/10/assign", {"unit": "河口镇", "period": "2023-05", "next": "/review"}
    )
    assert r.status_code == 302 and r.headers["Location"] == "/review"
    assert state_of(app, "河口镇", "2023-05") == ("received", [10])
    assert 'href="/messages/10"' not in clerk.get("/review").data.decode()
    [row] = audit_rows(app)
    assert (row.by, row.action, row.message_id) == ("clerk", "assign", 10)
    assert row.before["decision"] == "review" and row.after["units"] == ["河口镇"]
    assert row.after["address"]["address"] == "13912345678@163.com"
    with app.db.session() as s:
        src = s.scalar(
            select(UnitAddress.source).where(UnitAddress.address == "13912345678@163.com")
        )
    assert src == "staff"
    # status --json sees it at once
    out = run(app.config.path, "status", "--json", "--as-of", "2023-06-30", "--period", "2023-05")
    hk = next(r for r in json.loads(out) if r["unit"] == "河口镇")
    assert hk["state"] == "received" and hk["submissions"][0]["id"] == 10

    html = clerk.get("/messages/10").data.decode()
    assert f'action="/history/{row.id}/undo"' in html
    r = clerk.post(f"/history/{row.id}/undo", {"next": "/messages/10"})
    assert r.headers["Location"] == "/messages/10"
    assert state_of(app, "河口镇", "2023-05") == ("missing", [])
    rows = audit_rows(app)
    assert [r.action for r in rows] == ["assign", "undo"]
    assert rows[0].undone_by_id == rows[1].id and rows[1].undoes_id == rows[0].id
    with app.db.session() as s:
        assert s.get(Message, 10).decision == "review"  # type: ignore[union-attr]
        assert (
            s.scalar(select(UnitAddress).where(UnitAddress.address == "13912345678@163.com"))
            is None
        )
    # an undone action cannot be undone twice
    r = clerk.post(f"/history/{row.id}/undo")
    page = clerk.get("/history").data.decode()
    assert "该操作已撤销" in page
    assert "撤销</b> #10" in page and "撤销 撤销" not in page and "撤销</b> 撤销" not in page


def test_assign_accepts_aliases_traditional_and_joint_units(clerk: Client, app: App) -> None:
    clerk.post("/messages/10/assign", {"unit": "湘潭縣林業局、县人社局", "period": "2023-05"})
    with app.db.session() as s:
        msg = s.get(Message, 10)
        assert sorted(mu.unit.name for mu in msg.units) == ["县人社局", "县林业局"]  # type: ignore[union-attr]
    assert 10 in state_of(app, "县林业局", "2023-05")[1]


def test_assign_refuses_an_unknown_name_and_suggests_close_ones(clerk: Client, app: App) -> None:
    r = clerk.post(
        "/messages/10/assign", {"unit": "河口乡", "period": "2023-05", "next": "/review"}
    )
    assert r.status_code == 302
    page = clerk.get("/review").data
    assert any("名单中没有单位“河口乡”，是不是：河口镇？" in f for f in flashes(page))
    assert audit_rows(app) == []


def test_a_post_without_csrf_token_changes_nothing(clerk: Client, app: App) -> None:
    r = clerk.post("/messages/10/assign", {"unit": "河口镇", "period": "2023-05"}, csrf=False)
    assert r.status_code == 400
    r = clerk.c.post(
        "/messages/10/assign", data={"unit": "河口镇", "period": "2023-05", "csrf_token": "forged"}
    )
    assert r.status_code == 400
    assert state_of(app, "河口镇", "2023-05") == ("missing", [])
    assert audit_rows(app) == []


def test_ignore_with_reason_and_undo(clerk: Client, app: App) -> None:
    clerk.post("/messages/10/ignore", {"note": "广告"})
    with app.db.session() as s:
        msg = s.get(Message, 10)
        assert (msg.decision, msg.decided_by) == ("ignored", "staff")  # type: ignore[union-attr]
        assert "备注：广告" in msg.reasons  # type: ignore[union-attr]
    [row] = audit_rows(app)
    assert (row.action, row.note) == ("ignore", "广告")
    clerk.post(f"/history/{row.id}/undo")
    with app.db.session() as s:
        assert s.get(Message, 10).decision == "review"  # type: ignore[union-attr]


def test_unassign_sends_a_matched_report_back_to_review_and_undo_restores_it(
    clerk: Client, app: App
) -> None:
    assert state_of(app, "县林业局", "2023-05") == ("received", [9])
    clerk.post("/messages/9/unassign", {"note": "单位写错"})
    assert state_of(app, "县林业局", "2023-05") == ("missing", [])
    assert 'href="/messages/9"' in clerk.get("/review").data.decode()
    [row] = audit_rows(app)
    assert row.before["units"] == ["县林业局"] and row.after["decision"] == "review"
    clerk.post(f"/history/{row.id}/undo")
    assert state_of(app, "县林业局", "2023-05") == ("received", [9])
    with app.db.session() as s:
        assert s.get(Message, 9).decided_by == "auto"  # type: ignore[union-attr]


def test_undo_is_refused_when_a_later_change_touched_the_same_mail(clerk: Client, app: App) -> None:
    clerk.post("/messages/10/assign", {"unit": "河口镇", "period": "2023-05"})
    clerk.post("/messages/10/assign", {"unit": "石鼓镇", "period": "2023-06"})
    first, second = audit_rows(app)
    clerk.post(f"/history/{first.id}/undo")
    assert any("此后又有改动" in f for f in flashes(clerk.get("/history").data))
    assert state_of(app, "石鼓镇", "2023-06")[1] == [10]
    clerk.post(f"/history/{second.id}/undo")
    assert state_of(app, "河口镇", "2023-05") == ("received", [10])


def test_remember_sender_and_undo(clerk: Client, app: App) -> None:
    clerk.post("/messages/10/remember", {"unit": "河口镇"})
    with app.db.session() as s:
        row = s.scalar(select(UnitAddress).where(UnitAddress.address == "13912345678@163.com"))
        assert row is not None and row.source == "staff" and row.unit.name == "河口镇"
    html = clerk.get("/units/河口镇").data.decode()
    assert "13912345678@163.com" in html and "已确认 · 工作人员" in html
    [a] = audit_rows(app)
    assert a.action == "remember_sender"
    clerk.post(f"/history/{a.id}/undo")
    with app.db.session() as s:
        assert (
            s.scalar(select(UnitAddress).where(UnitAddress.address == "13912345678@163.com"))
            is None
        )


def test_excuse_unexcuse_and_undo(clerk: Client, app: App) -> None:
    clerk.post("/units/县林业局/excuse", {"period": "2023-05", "note": "机构调整"})
    assert state_of(app, "县林业局", "2023-05")[0] == "excused"
    clerk.post("/units/县林业局/excuse", {"period": "2023-05", "undo": "1"})
    assert state_of(app, "县林业局", "2023-05")[0] == "received"
    excused, unexcused = audit_rows(app)
    assert (excused.action, unexcused.action) == ("excuse", "unexcuse")
    clerk.post(f"/history/{unexcused.id}/undo")
    assert state_of(app, "县林业局", "2023-05")[0] == "excused"
    clerk.post(f"/history/{excused.id}/undo")
    assert state_of(app, "县林业局", "2023-05")[0] == "received"
    with app.db.session() as s:
        slot = s.scalar(select(Slot).join(Unit).where(Unit.name == "县林业局"))
        assert slot is not None and slot.note == ""


def test_reschedule_moves_the_slot_survives_a_roster_sync_and_undoes(
    clerk: Client, app: App, config: Path
) -> None:
    assert state_of(app, "河口镇", "2023-05") == ("missing", [])
    clerk.post("/units/河口镇/reschedule", {"period": "2023-05", "to_period": "2023-08"})
    assert state_of(app, "河口镇", "2023-08")[0] == "upcoming"
    with app.db.session() as s:
        assert not slot_states(
            s, as_of=AS_OF, tz=app.config.timezone, unit="河口镇", period="2023-05"
        )
    # a new start syncs the roster again: the moved slot stays moved
    again = App.from_path(config)
    try:
        with again.db.session() as s:
            periods = [
                st.period
                for st in slot_states(s, as_of=AS_OF, tz=again.config.timezone, unit="河口镇")
            ]
    finally:
        again.close()
    assert periods == ["2023-08"]
    [row] = audit_rows(app)
    clerk.post(f"/history/{row.id}/undo")
    assert state_of(app, "河口镇", "2023-05") == ("missing", [])


def test_history_page_lists_actions_with_who_and_undo_buttons(clerk: Client, app: App) -> None:
    clerk.post("/messages/10/ignore", {"note": "测试"})
    html = clerk.get("/history").data.decode()
    assert "确认非报送" in html and "clerk" in html and "/undo" in html


# --- mail links into the board --------------------------------------------------------------

SINCE = datetime(2023, 6, 1, tzinfo=UTC)
SMTP = '[smtp]\nhost = "127.0.0.1"\nsecurity = "none"\nfrom = "xtxgov@126.com"\n'


def test_digest_links_review_items_units_and_reports_to_the_board(config: Path) -> None:
    from tracker.outgoing.digest import make_digest

    config.write_text(
        config.read_text(encoding="utf-8")
        + SMTP
        + '[web]\nbase_url = "https://report.office.lan/board"\n',
        encoding="utf-8",
    )
    a = App.from_path(config)
    try:
        with a.db.session() as s:
            d = make_digest(s, a.config, a.roster, AS_OF, to=["staff@example.com"], since=SINCE)
    finally:
        a.close()
    base = "https://report.office.lan/board"
    assert f'href="{base}/messages/10"' in d.html  # a review item
    assert f'href="{base}/messages/13"' in d.html  # a new report (石潭镇, June)
    assert f'href="{base}/units/%E7%9F%B3%E6%BD%AD%E9%95%87"' in d.html  # 石潭镇
    assert f'href="{base}/review"' in d.html and "report-intake 命令" not in d.html
    assert f"核对：{base}/messages/10" in d.text


def test_digest_has_no_board_links_without_a_base_url(config: Path) -> None:
    from tracker.outgoing.digest import make_digest

    config.write_text(config.read_text(encoding="utf-8") + SMTP, encoding="utf-8")
    a = App.from_path(config)
    try:
        with a.db.session() as s:
            d = make_digest(s, a.config, a.roster, AS_OF, to=["staff@example.com"])
    finally:
        a.close()
    assert "/messages/" not in d.html and "/units/" not in d.html and "核对：" not in d.text


# --- the service unit -------------------------------------------------------------------------

WEB_UNIT = (
    Path(__file__).resolve().parent.parent / "deploy" / "systemd" / "report-intake-web.service"
)


def test_web_unit_file_scores_2_or_better_in_systemd_analyze_security() -> None:
    import shutil as sh
    import subprocess

    tool = sh.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    result = subprocess.run(
        [tool, "security", "--offline=true", "--no-pager", str(WEB_UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = result.stdout + result.stderr
    line = next((x for x in out.splitlines() if "Overall exposure level" in x), None)
    assert line is not None, out
    score = float(line.split("Overall exposure level for", 1)[1].split(":", 1)[1].split()[0])
    assert score <= 2.0, out
    text = WEB_UNIT.read_text()
    for needle in (
        "report-intake web",
        "StateDirectory=report-intake",
        "LoadCredential=web-secret:",
    ):
        assert needle in text


def test_unit_addresses_add_confirm_remove_and_undo(clerk: Client, app: App) -> None:
    from tracker.addressbook import LEARNT, learn

    def row(address: str) -> UnitAddress | None:
        with app.db.session() as s:
            return s.scalar(select(UnitAddress).where(UnitAddress.address == address))

    r = clerk.post("/units/河口镇/addresses/add", {"address": "HK.Clerk@163.com"})
    assert r.headers["Location"] == "/units/%E6%B2%B3%E5%8F%A3%E9%95%87"
    added = row("hk.clerk@163.com")
    assert added is not None and added.status == "confirmed" and added.confirmed_by == "clerk"
    assert "hk.clerk@163.com" in clerk.get("/units/河口镇").data.decode()
    clerk.post("/units/河口镇/addresses/remove", {"address": "hk.clerk@163.com"})
    assert row("hk.clerk@163.com") is None
    add, remove = audit_rows(app)
    assert (add.action, remove.action) == ("add_address", "remove_address")
    clerk.post(f"/history/{remove.id}/undo")
    assert row("hk.clerk@163.com") is not None
    clerk.post(f"/history/{add.id}/undo")
    assert row("hk.clerk@163.com") is None

    # a bad address and a roster address are refused in Chinese
    clerk.post("/units/河口镇/addresses/add", {"address": "not an address"})
    assert any("不是可用的邮箱地址" in f for f in flashes(clerk.get("/units/河口镇").data))
    with app.db.session() as s:
        unit = s.scalar(select(Unit).where(Unit.name == "县林业局"))
        learn(s, unit, "lyj.other@163.com", "report", AS_NOW, message_id=9)  # type: ignore[arg-type]
    with app.db.session() as s:
        learnt = s.scalar(select(UnitAddress).where(UnitAddress.status == LEARNT))
        roster_row = s.scalar(select(UnitAddress).where(UnitAddress.source == "roster"))
        assert learnt is not None and roster_row is not None
        learnt_unit, learnt_address = learnt.unit.name, learnt.address
        roster_unit, roster_address = roster_row.unit.name, roster_row.address
    clerk.post(f"/units/{roster_unit}/addresses/remove", {"address": roster_address})
    assert any("来自名单文件" in f for f in flashes(clerk.get(f"/units/{roster_unit}").data))
    assert row(roster_address) is not None
    clerk.post(f"/units/{learnt_unit}/addresses/confirm", {"address": learnt_address})
    assert row(learnt_address).status == "confirmed"  # type: ignore[union-attr]
    confirm = audit_rows(app)[-1]
    assert confirm.action == "confirm_address"
    clerk.post(f"/history/{confirm.id}/undo")
    assert row(learnt_address).status == LEARNT  # type: ignore[union-attr]


def test_a_report_received_in_another_year_shows_its_year(clerk: Client, app: App) -> None:
    from tracker.models import Submission

    clerk.post("/messages/10/assign", {"unit": "河口镇", "period": "2023-05"})
    html = clerk.get("/units/河口镇").data.decode()
    assert re.search(r"#10 05-\d\d \d\d:\d\d", html)  # the slot's own year: no year shown
    with app.db.session() as s:
        for sub in s.scalars(select(Submission).where(Submission.message_id == 10)):
            sub.received_at = datetime(2022, 12, 30, 3, tzinfo=UTC)
        msg = s.get(Message, 10)
        assert msg is not None
        msg.received_at = datetime(2022, 12, 30, 3, tzinfo=UTC)
    html = clerk.get("/units/河口镇").data.decode()
    assert "#10 2022-12-30 11:00" in html  # another year: the year is said
