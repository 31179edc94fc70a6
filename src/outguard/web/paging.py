"""Paging for listings: `limit` and `offset` query parameters and one response shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BaseModel

MAX_LIMIT = 1000


class Paging(BaseModel):
    limit: int
    offset: int


def paging(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = 100,
    offset: Annotated[int, Query(ge=0, description="Items to skip.")] = 0,
) -> Paging:
    return Paging(limit=limit, offset=offset)


PagingDep = Annotated[Paging, Depends(paging)]


def page(items: Sequence[Any], p: Paging) -> dict[str, Any]:
    """A page of a complete list: `{"items", "total", "limit", "offset", "next_offset"}`."""
    chunk = list(items[p.offset : p.offset + p.limit])
    end = p.offset + len(chunk)
    return {
        "items": chunk,
        "total": len(items),
        "limit": p.limit,
        "offset": p.offset,
        "next_offset": end if end < len(items) else None,
    }


def open_page(items: list[Any], p: Paging) -> dict[str, Any]:
    """A page fetched with limit+1 rows (the total is not counted): `next_offset` when there is more."""
    more = len(items) > p.limit
    return {
        "items": items[: p.limit],
        "total": None,
        "limit": p.limit,
        "offset": p.offset,
        "next_offset": p.offset + p.limit if more else None,
    }
