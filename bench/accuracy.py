"""Accuracy of the matcher over the labelled corpus (tests/corpus).

    .venv/bin/python bench/accuracy.py [--corpus DIR] [--roster FILE] [--wrong-only]

Parses every .eml with intake.parsing.parse_message, matches it against the roster with
received_at = the mail's Date, and compares kind, decision, units and period with
expected.toml. Prints one row per mail, the totals, the confident-wrong count (matched
but wrong: the worst outcome) and the matching speed. Exit status 1 when any mail is
confidently wrong.
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from intake.matching import MatchResult, UnitRef, build_index, match  # noqa: E402
from intake.parsing import ParsedMail, parse_message  # noqa: E402
from intake.places import Jurisdiction  # noqa: E402
from tracker.roster import load_roster  # noqa: E402

OWN_ADDRESSES = ("xtxgov@126.com",)


@dataclass(frozen=True)
class Row:
    name: str
    expected: dict[str, object]
    result: MatchResult

    @property
    def right(self) -> bool:
        e = self.expected
        r = self.result
        return (
            r.kind == e["kind"]
            and r.decision == e["decision"]
            and set(r.units) == set(e["units"])  # type: ignore[call-overload]
            and (r.period or "") == e["period"]
        )

    @property
    def confident_wrong(self) -> bool:
        return self.result.decision == "matched" and not self.right


def load_units(path: Path) -> tuple[UnitRef, ...]:
    return load_roster(path).unit_refs()


def load_jurisdiction(path: Path) -> Jurisdiction:
    return load_roster(path).jurisdiction


def received_at(mail: ParsedMail) -> datetime:
    return mail.date or datetime(2023, 6, 1, tzinfo=UTC)


def evaluate(
    corpus: Path, units: Sequence[UnitRef], place: Jurisdiction | None = None
) -> tuple[list[Row], float]:
    """Match every corpus mail; return the rows and the mails per second of `match` alone."""
    with (corpus / "expected.toml").open("rb") as f:
        expected = tomllib.load(f)
    parsed = {name: parse_message((corpus / "mails" / name).read_bytes()) for name in expected}
    build_index(units, place)
    for mail in parsed.values():  # warm up: imports (openpyxl, python-docx), regex caches
        match(
            mail,
            units,
            received_at=received_at(mail),
            own_addresses=OWN_ADDRESSES,
            jurisdiction=place,
        )
    rows = []
    started = time.perf_counter()
    for name, want in expected.items():
        mail = parsed[name]
        result = match(
            mail,
            units,
            received_at=received_at(mail),
            own_addresses=OWN_ADDRESSES,
            jurisdiction=place,
        )
        rows.append(Row(name, want, result))
    elapsed = time.perf_counter() - started
    return rows, len(rows) / elapsed if elapsed else float("inf")


def _fmt(kind: str, decision: str, units: Sequence[str], period: str | None) -> str:
    return f"{kind}/{decision} {'+'.join(units) or '-'} {period or '-'}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "corpus")
    parser.add_argument("--roster", type=Path, default=ROOT / "examples" / "roster.toml")
    parser.add_argument("--wrong-only", action="store_true", help="print only the wrong rows")
    args = parser.parse_args(argv)

    units = load_units(args.roster)
    rows, speed = evaluate(args.corpus, units, load_jurisdiction(args.roster))
    width = max(len(r.name) for r in rows)
    for row in rows:
        if args.wrong_only and row.right:
            continue
        mark = "ok   " if row.right else ("WRONG!" if row.confident_wrong else "wrong")
        r, e = row.result, row.expected
        line = f"{mark:6} {row.name:<{width}}  {_fmt(r.kind, r.decision, r.units, r.period)}"
        if not row.right:
            line += "   expected " + _fmt(
                str(e["kind"]),
                str(e["decision"]),
                list(e["units"]),  # type: ignore[call-overload]
                str(e["period"]),
            )
            line += "\n       " + " | ".join(r.reasons)
        print(line)
    right = sum(r.right for r in rows)
    confident_wrong = sum(r.confident_wrong for r in rows)
    by_decision: dict[str, int] = {}
    for row in rows:
        by_decision[row.result.decision] = by_decision.get(row.result.decision, 0) + 1
    print()
    print(
        f"mails: {len(rows)}  right: {right} ({100 * right / len(rows):.1f}%)  "
        f"wrong: {len(rows) - right}  confident-wrong: {confident_wrong}"
    )
    print("decisions: " + ", ".join(f"{k} {v}" for k, v in sorted(by_decision.items())))
    print(f"speed: {speed:.0f} mails/s (match only, parsed mails)")
    return 1 if confident_wrong else 0


if __name__ == "__main__":
    sys.exit(main())
