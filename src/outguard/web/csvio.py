"""CSV in and out: report and trace exports, allow/block list export and import."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi.responses import Response

from outguard.errors import InvalidValue

TABL_COLUMNS = ("value", "notes", "expires")
MAX_IMPORT_BYTES = 2 * 1024 * 1024


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return " ".join(str(x) for x in v)
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True)
    text = str(v)
    # A cell that a spreadsheet would run as a formula (CSV injection) is quoted with a leading '.
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in columns])
    return out.getvalue()


def csv_response(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def read_tabl_csv(data: bytes) -> list[dict[str, str]]:
    """Rows of `value,notes,expires` (header required; other columns are ignored, so an export
    imports again). Blank lines are skipped."""
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidValue("CSV file", f"{len(data)} bytes", f"is larger than {MAX_IMPORT_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidValue("CSV file", "(binary)", "is not UTF-8 text")
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "value" not in header:
        raise InvalidValue(
            "CSV header", ",".join(reader.fieldnames or []), "needs a 'value' column (value,notes,expires)"
        )
    reader.fieldnames = header
    rows = []
    for row in reader:
        clean = {k: (row.get(k) or "").strip() for k in TABL_COLUMNS}
        if any(clean.values()):
            rows.append(clean)
    if not rows:
        raise InvalidValue("CSV file", "", "has no rows")
    return rows
