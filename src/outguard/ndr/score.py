"""Scoring the explainer against the corpus table (`expected.tsv`), shared by `bench/bounces` and tests.

The expectations are Sisimai's answers. Sisimai invents `X.0.9NN` statuses when a message carries no
enhanced status code; those "pseudo" statuses match a result that reports no code at all.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

_PSEUDO = re.compile(r"^\d\.0\.9\d\d$")


@dataclass(frozen=True)
class ExpectedRow:
    """One row of expected.tsv: one failed recipient of one sample file."""

    file: str
    recipient: str
    status: str
    reason: str
    index: int
    recipient_alt: str = ""
    status_pseudo: bool = False
    refs_agree: bool = True
    note: str = ""

    @property
    def mta(self) -> str:
        """The sample family from the file name (`lhost-postfix`, `rfc3464`, ...), for grouping."""
        name = Path(self.file).name
        return re.sub(r"-\d+\.eml$", "", name)

    @property
    def row_id(self) -> str:
        return f"{self.file}#{self.index}"


@dataclass(frozen=True)
class Result:
    """The three fields the score compares, as an explainer (ours or Sisimai) reported them."""

    recipient: str
    status: str | None
    reason: str


@dataclass
class RowScore:
    row: ExpectedRow
    got: Result | None
    recipient_ok: bool
    status_ok: bool
    reason_ok: bool

    @property
    def all_ok(self) -> bool:
        return self.recipient_ok and self.status_ok and self.reason_ok


@dataclass
class Score:
    rows: list[RowScore] = field(default_factory=list)

    def share(self, attr: str) -> float:
        if not self.rows:
            return 0.0
        return sum(1 for r in self.rows if getattr(r, attr)) / len(self.rows)

    @property
    def all_three(self) -> float:
        return self.share("all_ok")

    @property
    def failures(self) -> list[RowScore]:
        return [r for r in self.rows if not r.all_ok]


def read_expected(path: Path) -> list[ExpectedRow]:
    """Rows of expected.tsv, in file order."""
    rows = []
    with path.open(newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            rows.append(
                ExpectedRow(
                    file=rec["file"],
                    recipient=rec["recipient"] or "",
                    status=rec["status"] or "",
                    reason=rec["reason"] or "",
                    index=int(rec["index"] or 1),
                    recipient_alt=rec.get("recipient_alt") or "",
                    status_pseudo=(rec.get("status_pseudo") or "") == "yes",
                    refs_agree=(rec.get("refs_agree") or "yes") == "yes",
                    note=rec.get("note") or "",
                )
            )
    return rows


def is_pseudo_status(status: str) -> bool:
    return bool(_PSEUDO.match(status or ""))


def status_matches(expected: ExpectedRow, got: str | None) -> bool:
    got = got or ""
    if expected.status_pseudo or is_pseudo_status(expected.status):
        # "No code in the message": an empty status, or the same pseudo class (5.0.9NN -> 5.0.9xx).
        return got == "" or (is_pseudo_status(got) and got[0] == expected.status[0])
    return got == expected.status


def _recipient_ok(expected: ExpectedRow, got: str) -> bool:
    got = (got or "").lower()
    return got == expected.recipient.lower() or bool(
        expected.recipient_alt and got == expected.recipient_alt.lower()
    )


def score_file(expected: list[ExpectedRow], results: list[Result]) -> list[RowScore]:
    """Pair each expected row of one file with a result and compare.

    A row is paired with the result for its recipient (the n-th such result when a recipient appears
    more than once); failing that, with the result at the row's index.
    """
    used: set[int] = set()
    out = []
    for row in sorted(expected, key=lambda r: r.index):
        pick = None
        for i, res in enumerate(results):
            if i not in used and _recipient_ok(row, res.recipient):
                pick = i
                break
        if pick is None and 0 < row.index <= len(results) and (row.index - 1) not in used:
            pick = row.index - 1
        got = results[pick] if pick is not None else None
        if pick is not None:
            used.add(pick)
        if got is None:
            out.append(RowScore(row, None, row.recipient == "", row.status == "", row.reason == ""))
            continue
        out.append(
            RowScore(
                row,
                got,
                recipient_ok=_recipient_ok(row, got.recipient),
                status_ok=status_matches(row, got.status),
                reason_ok=(got.reason or "") == row.reason,
            )
        )
    return out


def score(expected: Iterable[ExpectedRow], results: Mapping[str, list[Result]]) -> Score:
    """Score every expected row; `results` maps a corpus-relative file path to its results."""
    by_file: dict[str, list[ExpectedRow]] = {}
    for row in expected:
        by_file.setdefault(row.file, []).append(row)
    total = Score()
    for file, rows in by_file.items():
        total.rows.extend(score_file(rows, results.get(file, [])))
    return total


def score_with(expected: Iterable[ExpectedRow], run: Callable[[str], list[Result]]) -> Score:
    """Score by calling `run(file)` once per file named in the table."""
    rows = list(expected)
    files = dict.fromkeys(r.file for r in rows)
    return score(rows, {f: run(f) for f in files})
