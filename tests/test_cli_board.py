"""The board's commands and the staff actions the command line gained (unassign, reschedule,
history, undo, --by), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker.cli import main
from tracker.samples import write_maildir

ROSTER = Path(__file__).resolve().parent.parent / "tracker" / "data" / "roster.example.toml"


@pytest.fixture
def workspace(tmp_path: Path, database_url: str) -> Path:
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


def run(config: Path, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args], input=input)
    return result.exit_code, result.stdout, result.stderr


def slot(config: Path, unit: str, period: str) -> dict[str, object] | None:
    code, out, err = run(config, "status", "--json", "--as-of", "2023-06-30")
    assert code == 0, err
    return next((r for r in json.loads(out) if r["unit"] == unit and r["period"] == period), None)


def test_user_add_passwd_disable_list(workspace: Path) -> None:
    code, out, _ = run(workspace, "user", "list")
    assert code == 0 and "no users yet" in out
    code, out, err = run(
        workspace,
        "user",
        "add",
        "lihua",
        "--role",
        "clerk",
        "--password-stdin",
        input="secret-123\n",
    )
    assert (code, out.strip()) == (0, "user lihua added (clerk)"), err
    code, _, err = run(
        workspace, "user", "add", "lihua", "--role", "viewer", "--password-stdin", input="x" * 9
    )
    assert code == 1 and err.strip() == (
        "report-intake: error: user 'lihua': already exists (use `user passwd`)"
    )
    code, _, err = run(
        workspace, "user", "add", "wang", "--role", "viewer", "--password-stdin", input="short\n"
    )
    assert code == 1 and "at least 8 characters" in err and "Traceback" not in err
    code, _, err = run(workspace, "user", "add", "wang", "--role", "boss", "--password-stdin")
    assert code == 2 and "Traceback" not in err
    assert (
        run(workspace, "user", "passwd", "lihua", "--password-stdin", input="another-1\n")[0] == 0
    )
    code, _, err = run(
        workspace, "user", "passwd", "nobody", "--password-stdin", input="another-1\n"
    )
    assert code == 1 and "no such user" in err
    assert run(workspace, "user", "disable", "lihua")[0] == 0
    code, out, _ = run(workspace, "user", "list")
    assert out.split("\t")[:3] == ["lihua", "clerk", "disabled"]
    assert "secret" not in out and "argon2" not in out


def test_staff_actions_from_the_command_line_are_audited_and_undoable(workspace: Path) -> None:
    assert run(workspace, "poll", "--once")[0] == 0
    # a name close to a unit's is refused with a suggestion (河口 alone would be 河口镇)
    code, _, err = run(workspace, "assign", "10", "--unit", "河口乡", "--period", "2023-05")
    assert code == 1
    assert (
        err.strip()
        == "report-intake: error: unit '河口乡': not in the roster; did you mean 河口镇?"
    )
    # traditional characters and the county prefix are understood
    code, out, err = run(
        workspace, "assign", "10", "--unit", "湘潭縣河口鎮", "--period", "2023-05", "--by", "lihua"
    )
    assert code == 0, err
    assert out.strip() == "#10: report for 河口镇 2023-05 (staff decision)"
    assert slot(workspace, "河口镇", "2023-05")["state"] == "received"  # type: ignore[index]

    code, out, _ = run(workspace, "unassign", "10", "--note", "错了")
    assert (code, out.strip()) == (0, "#10: back in review (staff decision)")
    assert slot(workspace, "河口镇", "2023-05")["state"] == "missing"  # type: ignore[index]
    code, _, err = run(workspace, "unassign", "10")
    assert code == 1 and "already in review" in err

    code, out, err = run(workspace, "reschedule", "河口镇", "2023-05", "2023-09", "--by", "lihua")
    assert (code, out.strip()) == (0, "河口镇: 2023-05 -> 2023-09 (due 2023-09-25)"), err
    assert slot(workspace, "河口镇", "2023-05") is None
    assert slot(workspace, "河口镇", "2023-09")["state"] == "upcoming"  # type: ignore[index]
    code, _, err = run(workspace, "reschedule", "河口镇", "2023-05", "2023-10")
    assert code == 1 and "owes no report for 2023-05" in err

    code, out, _ = run(workspace, "excuse", "县林业局", "2023-05", "--note", "机构调整")
    assert code == 0
    code, out, _ = run(workspace, "history", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["action"] for r in rows] == ["excuse", "reschedule", "unassign", "assign"]
    assert rows[1]["by"] == "lihua" and rows[0]["by"].startswith("cli:")
    assert rows[3]["before"]["decision"] == "review" and rows[3]["after"]["units"] == ["河口镇"]

    # undo the newest first; an older one whose thing changed since is refused
    code, _, err = run(workspace, "undo", str(rows[3]["id"]))
    assert code == 1 and "changed again since" in err
    for row in rows[:3]:
        code, out, err = run(workspace, "undo", str(row["id"]))
        assert code == 0, err
    assert slot(workspace, "河口镇", "2023-05")["state"] == "received"  # type: ignore[index]
    assert slot(workspace, "县林业局", "2023-05")["state"] == "received"  # type: ignore[index]
    code, _, err = run(workspace, "undo", str(rows[0]["id"]))
    assert code == 1 and "already undone" in err
    code, _, err = run(workspace, "undo", "9999")
    assert code == 1 and "no such entry" in err
    code, out, _ = run(workspace, "history")
    assert "(undone by #" in out

    # the unit address commands are audited staff actions too
    code, out, err = run(workspace, "unit", "add-address", "河口镇", "hk@163.com", "--by", "lihua")
    assert (code, out.strip()) == (0, "河口镇: hk@163.com added (confirmed)"), err
    code, out, _ = run(workspace, "history", "--json", "--limit", "1")
    last = json.loads(out)
    assert (last["action"], last["by"]) == ("add_address", "lihua")
    assert run(workspace, "undo", str(last["id"]))[0] == 0
    code, out, _ = run(workspace, "unit", "addresses", "河口镇", "--json")
    assert "hk@163.com" not in out


def test_demo_serve_without_a_terminal_says_how_and_ends(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path / "demo"), "--serve"])
    assert result.exit_code == 0, result.output
    assert "Staff board: not served (no terminal to stop it from)" in result.stdout
    assert "log in as demo / demo-board-2023" in result.stdout
    assert " web --as-of 2023-06-30" in result.stdout  # the board the README describes
    config = tmp_path / "demo" / "demo.toml"
    code, out, _ = run(config, "user", "list")
    assert code == 0 and out.startswith("demo\tclerk\tenabled")
