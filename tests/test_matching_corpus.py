"""The labelled corpus (tests/corpus): real .eml files through the real parser and matcher."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from tests.matching_mail import ROOT, load_jurisdiction, load_units

CORPUS = ROOT / "tests" / "corpus"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_accuracy", ROOT / "bench" / "accuracy.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rows() -> list:
    rows, _speed = _bench().evaluate(CORPUS, load_units(), load_jurisdiction())
    return rows


def test_it_has_a_corpus_of_every_case() -> None:
    expected = tomllib.loads((CORPUS / "expected.toml").read_text("utf-8"))
    assert len(expected) >= 80
    assert {e["kind"] for e in expected.values()} == {"report", "liaison", "other"}
    assert {e["decision"] for e in expected.values()} == {"matched", "review", "ignored"}
    assert sorted(p.name for p in (CORPUS / "mails").glob("*.eml")) == sorted(expected)


def test_it_gets_the_corpus_right_and_is_never_confidently_wrong(rows: list) -> None:
    wrong = [f"{r.name}: {r.result}" for r in rows if not r.right]
    confident_wrong = [r.name for r in rows if r.confident_wrong]
    assert confident_wrong == []
    assert len(rows) - len(wrong) >= 0.95 * len(rows), "\n".join(wrong)


def test_it_explains_every_decision_in_chinese(rows: list) -> None:
    for row in rows:
        assert row.result.reasons, row.name
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in r) for r in row.result.reasons), (
            row.name
        )


def test_it_prints_the_accuracy_table() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "accuracy.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok     a01-lyj-utf8.eml" in done.stdout
    assert "confident-wrong: 0" in done.stdout


def test_it_regenerates_the_committed_corpus(tmp_path: Path) -> None:
    copy = tmp_path / "corpus"
    shutil.copytree(CORPUS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for eml in (copy / "mails").glob("*.eml"):
        eml.unlink()
    (copy / "expected.toml").unlink()
    subprocess.run([sys.executable, str(copy / "make_corpus.py")], check=True, capture_output=True)
    for eml in (CORPUS / "mails").glob("*.eml"):
        assert (copy / "mails" / eml.name).read_bytes() == eml.read_bytes(), eml.name
    assert (copy / "expected.toml").read_bytes() == (CORPUS / "expected.toml").read_bytes()
