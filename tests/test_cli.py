"""The command line as staff and IT use it: exact JSON contracts, clear one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.dovecot import DovecotMailbox
from tracker.cli import main
from tracker.samples import build_samples, write_maildir

ROSTER = Path(__file__).resolve().parent.parent / "tracker" / "data" / "roster.example.toml"


@pytest.fixture
def workspace(tmp_path: Path, database_url: str) -> Path:
    """A Maildir of the sample reports and a config pointing at it."""
    write_maildir(tmp_path / "Maildir")
    shutil.copyfile(ROSTER, tmp_path / "roster.toml")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[office]\naddresses = ["xtxgov@126.com"]\n'
        f'[mailbox]\ntype = "maildir"\npath = "Maildir"\n'
        f'[database]\nurl = "{database_url}"\n'
        f'[storage]\ndir = "data"\n[roster]\nfile = "roster.toml"\n',
        encoding="utf-8",
    )
    return config


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_poll_records_the_mailbox_and_messages_json_meets_the_contract(workspace: Path) -> None:
    code, out, err = run("--config", str(workspace), "poll", "--once")
    assert code == 0, err
    assert "14 fetched, 14 recorded" in out

    code, out, _ = run("--config", str(workspace), "poll", "--once")
    assert "0 recorded" in out

    code, out, _ = run("--config", str(workspace), "messages", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 14
    keys = {
        "id",
        "message_id",
        "from",
        "subject",
        "received_at",
        "kind",
        "decision",
        "units",
        "period",
        "attachments",
    }
    assert all(keys <= set(r) for r in rows)
    by_subject = {r["subject"]: r for r in rows}
    lyj = by_subject["县林业局5月政务公开主题日活动信息"]
    assert lyj["from"] == "lyj.xtx@example.com"
    assert (lyj["kind"], lyj["decision"], lyj["units"], lyj["period"]) == (
        "report",
        "matched",
        ["县林业局"],
        "2023-05",
    )
    assert lyj["attachments"] == 1 and lyj["message_id"].startswith("<")
    joint = by_subject["县卫健局、县民政局联合开展6月政务公开主题日活动"]
    assert sorted(joint["units"]) == ["县卫健局", "县民政局"]
    auto = next(r for r in rows if r["subject"].startswith("自动回复"))
    assert auto["decision"] == "ignored"
    assert {r["kind"] for r in rows} <= {"report", "liaison", "other"}
    assert {r["decision"] for r in rows} <= {"matched", "review", "ignored"}


def test_status_json_answers_for_any_date(workspace: Path) -> None:
    run("--config", str(workspace), "poll", "--once")
    code, out, _ = run(
        "--config",
        str(workspace),
        "status",
        "--period",
        "2023-04",
        "--as-of",
        "2023-04-26",
        "--json",
    )
    assert code == 0
    rows = {r["unit"]: r for r in json.loads(out)}
    assert len(rows) == 7
    assert rows["县发改局"]["state"] == "received" and rows["县发改局"]["due"] == "2023-04-25"
    assert rows["县发改局"]["submissions"] and isinstance(
        rows["县发改局"]["submissions"][0]["id"], int
    )
    assert rows["县自然资源局"]["state"] == "missing"
    # 中路铺镇 reported on the 27th: on the 26th it was missing, later it is late
    assert rows["中路铺镇"]["state"] == "missing"
    code, out, _ = run(
        "--config",
        str(workspace),
        "status",
        "--period",
        "2023-04",
        "--as-of",
        "2023-05-01",
        "--json",
    )
    assert {r["unit"]: r["state"] for r in json.loads(out)}["中路铺镇"] == "late"
    code, out, _ = run(
        "--config",
        str(workspace),
        "status",
        "--period",
        "2023-05",
        "--as-of",
        "2023-04-20",
        "--json",
    )
    assert {r["state"] for r in json.loads(out)} == {"upcoming"}


def test_match_is_a_dry_run_with_reasons(workspace: Path, tmp_path: Path) -> None:
    files = []
    for name, _, raw in build_samples():
        if name in ("lyj-may-cloud-link", "unknown-photo"):
            path = tmp_path / f"{name}.eml"
            path.write_bytes(raw)
            files.append(str(path))
    code, out, err = run("--config", str(workspace), "match", "--json", *files)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [Path(r["file"]).stem for r in rows] == ["lyj-may-cloud-link", "unknown-photo"]
    assert rows[0]["units"] == ["县林业局"] and rows[0]["period"] == "2023-05"
    assert rows[0]["decision"] == "matched" and rows[0]["reasons"]
    assert rows[1]["decision"] == "review" and rows[1]["reasons"]
    code, out, _ = run("--config", str(workspace), "messages", "--json")
    assert out == ""  # nothing was written


def test_staff_correct_the_review_queue_and_rematch_keeps_their_decision(workspace: Path) -> None:
    run("--config", str(workspace), "poll", "--once")
    code, out, _ = run("--config", str(workspace), "review", "--json")
    queue = [json.loads(line) for line in out.splitlines()]
    photo = next(r for r in queue if r["subject"] == "活动照片")
    code, out, err = run(
        "--config",
        str(workspace),
        "assign",
        str(photo["id"]),
        "--unit",
        "河口镇",
        "--period",
        "2023-05",
    )
    assert code == 0, err
    code, out, _ = run(
        "--config",
        str(workspace),
        "status",
        "--period",
        "2023-05",
        "--as-of",
        "2023-05-22",
        "--json",
    )
    assert {r["unit"]: r["state"] for r in json.loads(out)}["河口镇"] == "received"

    code, out, _ = run("--config", str(workspace), "rematch", "--all")
    assert code == 0 and "1 staff decision(s) kept" in out
    code, out, _ = run("--config", str(workspace), "messages", "--json")
    after = {r["id"]: r for r in map(json.loads, out.splitlines())}
    assert after[photo["id"]]["units"] == ["河口镇"] and after[photo["id"]]["decided_by"] == "staff"

    # the sender is now known: a new mail from it is matched to 河口镇
    code, out, _ = run(
        "--config", str(workspace), "excuse", "县医保局", "2023-06", "--note", "机构改革"
    )
    assert code == 0
    code, out, _ = run(
        "--config",
        str(workspace),
        "status",
        "--period",
        "2023-06",
        "--as-of",
        "2023-06-30",
        "--json",
    )
    assert {r["unit"]: r["state"] for r in json.loads(out)}["县医保局"] == "excused"


def test_export_writes_the_years_record(workspace: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    run("--config", str(workspace), "poll", "--once")
    out_file = tmp_path / "2023.xlsx"
    code, _out, err = run(
        "--config", str(workspace), "export", "--as-of", "2023-12-31", "--out", str(out_file)
    )
    assert code == 0, err
    wb = load_workbook(out_file)
    sheet = wb.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][:2] == ("序号", "单位") and len(rows) == 49
    states = {r[1]: r[8] for r in rows[2:]}
    assert states["县林业局"] == "按时报送" and states["易俗河镇"] == "未报送"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status"], "no config file: pass --config PATH or set REPORT_INTAKE_CONFIG"),
        (
            ["--config", "/nonexistent/x.toml", "status"],
            "config file /nonexistent/x.toml: not found",
        ),
    ],
)
def test_a_missing_config_is_one_clear_line(
    args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REPORT_INTAKE_CONFIG", raising=False)
    code, _out, err = run(*args)
    assert code == 2
    assert err.strip() == f"report-intake: error: {message}"


def test_a_bad_config_or_roster_is_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[mailbox]\ntype = "maildir"\npath = "M"\nprot = "x"\n[roster]\nfile = "r.toml"\n'
    )
    code, _, err = run("--config", str(config), "status")
    assert code == 2 and err.strip() == "report-intake: error: [mailbox] prot: unknown key"
    config.write_text('[mailbox]\ntype = "maildir"\npath = "M"\n[roster]\nfile = "r.toml"\n')
    (tmp_path / "r.toml").write_text('[[unit]]\nname = "县林业局"\nmonths = ["2023-5"]\n')
    code, _, err = run("--config", str(config), "status")
    assert code == 2
    assert (
        err.strip()
        == f"report-intake: error: roster {tmp_path / 'r.toml'}: unit 1 (县林业局): months: '2023-5' is not a period YYYY-MM"
    )


def test_bad_arguments_are_refused_without_a_traceback(workspace: Path) -> None:
    code, _, err = run("--config", str(workspace), "status", "--as-of", "20 May")
    assert code == 2 and "'20 May' is not a date YYYY-MM-DD" in err and "Traceback" not in err
    code, _, err = run("--config", str(workspace), "status", "--period", "2023-5")
    assert code == 2 and "'2023-5' is not a period YYYY-MM" in err
    code, _, err = run(
        "--config", str(workspace), "assign", "999", "--unit", "县林业局", "--period", "2023-05"
    )
    assert code == 1 and err.strip() == "report-intake: error: message #999: no such message"


def test_every_command_has_help() -> None:
    for name, command in main.commands.items():
        code, _out, _ = run(name, "--help")
        assert code == 0, name
        assert command.help and command.help.split("\n")[0].strip(), f"{name} has no help text"


def test_poll_reads_a_real_imap_server_through_the_config(
    dovecot: DovecotMailbox, tmp_path: Path
) -> None:
    for _, sent, raw in build_samples()[:3]:
        dovecot.append(raw, date=sent)
    shutil.copyfile(ROSTER, tmp_path / "roster.toml")
    (tmp_path / "pw").write_text(dovecot.password)
    (tmp_path / "pw").chmod(0o600)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[mailbox]\nhost = "{dovecot.host}"\nport = {dovecot.port}\nsecurity = "none"\n'
        f'username = "{dovecot.user}"\npassword_file = "pw"\n[roster]\nfile = "roster.toml"\n'
    )
    code, out, err = run("--config", str(config), "poll", "--once")
    assert code == 0, err
    assert "3 fetched, 3 recorded" in out
    code, out, _ = run("--config", str(config), "poll", "--once")
    assert "0 fetched, 0 recorded" in out


def test_a_wrong_imap_password_is_one_clear_line(dovecot: DovecotMailbox, tmp_path: Path) -> None:
    shutil.copyfile(ROSTER, tmp_path / "roster.toml")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[mailbox]\nhost = "{dovecot.host}"\nport = {dovecot.port}\nsecurity = "none"\n'
        f'username = "{dovecot.user}"\npassword = "wrong-code"\n[roster]\nfile = "roster.toml"\n'
    )
    code, _, err = run("--config", str(config), "poll", "--once")
    assert code != 0
    assert err.startswith("report-intake: error: ") and len(err.strip().splitlines()) == 1
    assert "wrong-code" not in err and "Traceback" not in err


def test_processes_starting_at_once_on_a_new_database_all_succeed(
    tmp_path: Path, database_url: str
) -> None:
    import subprocess
    import sys

    shutil.copyfile(ROSTER, tmp_path / "roster.toml")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[mailbox]\ntype = "maildir"\npath = "Maildir"\n[database]\nurl = "{database_url}"\n'
        '[roster]\nfile = "roster.toml"\n'
    )
    cmd = [sys.executable, "-c", "from tracker.cli import main; main()", "--config", str(config)]
    procs = [
        subprocess.Popen([*cmd, "status", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        assert len(json.loads(out)) == 47


def test_a_locked_database_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    # a long poll holds SQLite's write lock; a staff command meanwhile waits its busy
    # timeout and then says so in one line
    import sqlite3
    import subprocess
    import sys

    from tests.mail_helpers import write_config

    config = write_config(tmp_path, smtp_port=1)
    exe = Path(sys.executable).parent / "report-intake"
    first = subprocess.run([exe, "--config", config, "status", "--as-of", "2023-05-20"],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert first.returncode == 0, first.stderr
    holder = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        done = subprocess.run(
            [exe, "--config", config, "unit", "add-address", "河口镇", "clerk2@xtx.gov.cn"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr
    assert lines[-1].startswith("report-intake: error: database:") and "locked" in lines[-1]


def test_the_digest_without_a_board_address_names_no_command(
    workspace: Path, tmp_path: Path
) -> None:
    assert run("--config", str(workspace), "poll", "--once")[0] == 0
    out = tmp_path / "digest.html"
    code, _, err = run(
        "--config",
        str(workspace),
        "digest",
        "--dry-run",
        "--as-of",
        "2023-06-30",
        "--out",
        str(out),
    )
    assert code == 0, err
    page = out.read_text(encoding="utf-8")
    assert "待人工核对" in page or "核对" in page
    assert "报送管理看板核对" in page and "report-intake" not in page
