"""The allow/block list over the API: bulk add (at most 20, like the reference portal), change,
remove, CSV export and all-or-nothing CSV import."""

from __future__ import annotations

from tests.web.conftest import Api, error

BASE = "/api/v1/tenants/acme/tabl"


def values(api: Api, key: str = "acme", query: str = "") -> list[str]:
    return [e["value"] for e in api.get(BASE + query, key=key).json()["items"]]


def test_bulk_add_up_to_20_values(api: Api) -> None:
    twenty = [f"u{i}@spam.example" for i in range(20)]
    r = api.post(BASE, key="acme", json={"values": twenty, "days": 10, "notes": "campaign"})
    assert r.status_code == 201 and len(r.json()["items"]) == 20
    assert {e["notes"] for e in r.json()["items"]} == {"campaign"}
    assert "at most 20" in error(api.post(BASE, key="acme", json={"values": [*twenty, "x@y.example"]}), 422)
    assert len(values(api)) == 21
    page = api.get(BASE + "?limit=5&offset=20", key="acme").json()
    assert page["total"] == 21 and len(page["items"]) == 1 and page["next_offset"] is None


def test_add_validates_everything_before_writing(api: Api) -> None:
    msg = error(api.post(BASE, key="acme", json={"values": ["ok@example.com", "not an address"]}), 422)
    assert "not an address" in msg
    assert values(api) == ["bad@acme-target.example"]
    assert "already on the block list" in error(
        api.post(BASE, key="acme", json={"values": ["bad@acme-target.example"]}), 409
    )
    error(api.post(BASE, key="acme", json={"values": ["a@b.example"], "days": 91}), 422)
    error(api.post(BASE, key="acme", json={"values": ["a@b.example"], "action": "maybe"}), 422)
    r = api.post(BASE, key="acme", json={"values": ["*.friends.example"], "action": "allow", "days": 5})
    assert r.status_code == 201 and r.json()["items"][0]["kind"] == "wildcard"
    assert values(api, query="?action=allow") == ["*.friends.example"]


def test_change_and_remove(api: Api) -> None:
    api.post(BASE, key="acme", json={"values": ["a@x.example", "b@x.example", "c@x.example"]})
    r = api.patch(
        BASE, key="acme", json={"values": ["a@x.example"], "no_expiration": True, "notes": "forever"}
    )
    assert r.json()["items"][0]["expires_at"] is None and r.json()["items"][0]["notes"] == "forever"
    assert api.delete(BASE + "/a@x.example", key="acme").status_code == 204
    assert (
        api.post(BASE + "/remove", key="acme", json={"values": ["b@x.example", "c@x.example"]}).status_code
        == 204
    )
    assert values(api) == ["bad@acme-target.example"]
    assert "not on the block list" in error(api.delete(BASE + "/a@x.example", key="acme"), 404)
    error(
        api.post(BASE + "/remove", key="acme", json={"values": ["bad@acme-target.example", "zz@x.example"]}),
        404,
    )
    assert values(api) == ["bad@acme-target.example"]  # all or nothing


def test_csv_export_and_import_round_trip(api: Api) -> None:
    csv = "value,notes,expires\r\nx@imported.example,from csv,2099-01-01\r\n*.imported.example,,never\r\n"
    error(
        api.post(BASE + "/import", key="acme", content=csv.encode()), 422
    )  # 2099 is more than 90 days ahead
    assert values(api) == ["bad@acme-target.example"]
    csv = csv.replace("2099-01-01", "")
    r = api.post(BASE + "/import", key="acme", content=csv.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 201, r.text
    items = {e["value"]: e for e in r.json()["items"]}
    assert items["x@imported.example"]["notes"] == "from csv" and items["x@imported.example"]["expires_at"]
    assert items["*.imported.example"]["expires_at"] is None
    export = api.get(BASE + "?format=csv", key="acme")
    assert export.headers["content-type"].startswith("text/csv")
    lines = export.text.splitlines()
    assert lines[0] == "value,notes,expires,action,kind,created_at,created_by,last_used_at"
    assert any(line.startswith("*.imported.example,,never,block,wildcard,") for line in lines)
    # The export imports again (into another tenant, by the operator).
    r = api.post("/api/v1/tenants/globex/tabl/import", content=export.content)
    assert r.status_code == 201 and len(r.json()["items"]) == 3


def test_csv_import_is_all_or_nothing_and_names_the_row(api: Api) -> None:
    csv = b"value,notes\ngood@example.com,\nalso-good@example.com,\nbad value,\n"
    msg = error(api.post(BASE + "/import", key="acme", content=csv), 422)
    assert "row 3" in msg
    assert values(api) == ["bad@acme-target.example"]
    assert "'value' column" in error(
        api.post(BASE + "/import", key="acme", content=b"address\nx@y.example\n"), 422
    )
    assert "no rows" in error(api.post(BASE + "/import", key="acme", content=b"value,notes,expires\n"), 422)
    assert "given twice" in error(
        api.post(BASE + "/import", key="acme", content=b"value\na@b.example\nA@B.example\n"), 422
    )
