"""The `outguard` command line: the contract's commands, --json, and one-line errors with exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from outguard.cli.main import app
from tests.support.dnsserver import LoopbackDNS

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def run(env: dict[str, str]):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, ok: bool = True):
        result = runner.invoke(app, list(args), env=env, input=input)
        if ok:
            assert result.exit_code == 0, (args, result.output, result.stderr)
        return result

    return invoke


def _error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert result.stdout == ""
    return lines[0]


def test_tenant_commands(run) -> None:
    assert "tenant acme created (trial)" in run("tenant", "add", "acme", "--trial").stdout
    shown = json.loads(run("tenant", "show", "acme", "--json").stdout)
    assert shown["name"] == "acme" and shown["licensed"] is False and shown["status"] == "active"
    assert shown["block"] is None and "subscription_expires" in shown
    run(
        "tenant",
        "set",
        "acme",
        "--licensed",
        "--subscription-expires",
        "2027-06-30",
        "--tabl-mode",
        "per-recipient",
    )
    [t] = json.loads(run("tenant", "list", "--json").stdout)
    assert (
        t["licensed"] is True
        and t["subscription_expires"] == "2027-06-30"
        and t["tabl_mode"] == "per-recipient"
    )
    run("tenant", "block", "acme", "--reason", "compromised connector relaying spam")
    shown = json.loads(run("tenant", "show", "acme", "--json").stdout)
    assert shown["status"] == "blocked" and shown["block"]["code"] == "5.7.705"
    assert shown["block"]["reason"] == "compromised connector relaying spam" and shown["block"]["since"]
    assert "reason" in _error(run("tenant", "unblock", "acme", "--reason", "", ok=False))
    run("tenant", "unblock", "acme", "--reason", "connector removed; admin passwords reset")
    audit = json.loads(run("audit", "--tenant", "acme", "--json").stdout)
    assert (
        audit[0]["action"] == "tenant.unblock"
        and audit[0]["reason"] == "connector removed; admin passwords reset"
    )


def test_domain_add_prints_txt_record_and_verifies(run, dns_server: LoopbackDNS) -> None:
    run("tenant", "add", "acme")
    out = run("domain", "add", "acme", "acme.example").stdout
    record = out.strip().splitlines()[-1]
    assert record.startswith('acme.example. IN TXT "outguard-verification=')
    token = record.split("=", 1)[1].strip('"')
    dns_server.add_txt("acme.example", "v=spf1 -all")
    assert "verification record not found" in _error(
        run("domain", "verify", "acme", "acme.example", ok=False)
    )
    dns_server.add_txt("acme.example", f"outguard-verification={token}")
    assert "verified" in run("domain", "verify", "acme", "acme.example").stdout
    [d] = json.loads(run("domain", "list", "acme", "--json").stdout)
    assert d["verified"] is True


def test_connector_mailbox_tabl_reputation_apikey(run) -> None:
    run("tenant", "add", "acme", "--trial")
    run("tenant", "add", "globex")
    run("domain", "add", "acme", "acme.example", "--verified")
    run("connector", "add", "acme", "onprem", "--ip", "192.0.2.0/24", "--ip", "198.51.100.10")
    assert "overlaps" in _error(run("connector", "add", "globex", "x", "--ip", "192.0.2.10", ok=False))
    run("connector", "add", "acme", "certs", "--cert-domain", "mail.acme.example")
    conns = json.loads(run("connector", "list", "acme", "--json").stdout)
    assert {c["name"]: c["kind"] for c in conns} == {"certs": "certificate", "onprem": "ip"}
    run("connector", "remove", "acme", "certs")

    run("mailbox", "add", "acme", "alice@acme.example", "--password-stdin", input="correct horse battery\n")
    assert "--password-stdin" in _error(run("mailbox", "add", "acme", "bob@acme.example", ok=False))

    out = run(
        "tabl", "add", "acme", "--block", "bad@example.com", "*.spam.example", "--days", "7", "--notes", "x"
    )
    assert "block *.spam.example (wildcard)" in out.stdout
    entries = json.loads(run("tabl", "list", "acme", "--json").stdout)
    assert [e["value"] for e in entries] == ["*.spam.example", "bad@example.com"]
    assert "more than 90 days ahead" in _error(
        run("tabl", "add", "acme", "--block", "x@example.com", "--expires", "2099-01-01", ok=False)
    )
    run("tabl", "remove", "acme", "bad@example.com")

    run("reputation", "add", "203.0.113.0/24", "--reason", "snowshoe spam range")
    run("ip-exception", "add", "acme", "203.0.113.7", "--reason", "customer office during trial")
    [e] = json.loads(run("ip-exception", "list", "acme", "--json").stdout)
    assert e["cidr"] == "203.0.113.7/32"

    out = run("apikey", "create", "--tenant", "acme").stdout.strip().splitlines()
    assert out[-1].startswith("og_")
    key = json.loads(run("apikey", "create", "--operator", "--json").stdout)["key"]
    assert key.startswith("og_")
    listed = run("apikey", "list", "--json").stdout
    assert key not in listed and out[-1] not in listed


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["tenant", "show", "nope"], "unknown tenant 'nope'"),
        (["tenant", "add", "bad name"], "invalid tenant name 'bad name'"),
        (["tabl", "add", "acme", "--block", "not an address@"], "invalid list value"),
        (["tabl", "add", "acme", "--block", "x@example.com", "--days", "91"], "between 1 and 90"),
        (["connector", "add", "acme", "c", "--ip", "10.0.0.0/33"], "invalid CIDR '10.0.0.0/33'"),
        (["domain", "add", "acme", "exa_mple..com"], "invalid domain"),
        (["tenant", "set", "acme", "--tabl-mode", "maybe"], "invalid allow/block list mode 'maybe'"),
    ],
)
def test_bad_input_exits_1_with_one_line(run, args: list[str], needle: str) -> None:
    run("tenant", "add", "acme")
    assert needle in _error(run(*args, ok=False))


def test_duplicate_and_quota_errors(run) -> None:
    run("tenant", "add", "acme")
    assert "already exists" in _error(run("tenant", "add", "acme", ok=False))
    run("tabl", "add", "acme", "--block", "a@example.com")
    assert "already on the block list" in _error(
        run("tabl", "add", "acme", "--block", "a@example.com", ok=False)
    )


def test_broken_configuration_stops_with_the_key_named(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        app, ["tenant", "list"], env={**env, "OUTGUARD_POLICY__UNREGISTERED_ALLOWANCE": "lots"}
    )
    assert "[policy] unregistered_allowance" in _error(result)


def test_real_executable(env: dict[str, str]) -> None:
    exe = Path(sys.executable).with_name("outguard")
    full_env = {**os.environ, **env}
    done = subprocess.run(
        [str(exe), "tenant", "add", "acme", "--json"],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["name"] == "acme"
    done = subprocess.run(
        [str(exe), "tenant", "show", "missing"], env=full_env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and done.stderr.strip() == "error: unknown tenant 'missing'"


def test_status_code_docs_are_generated_from_the_catalogue() -> None:
    from outguard.cli.codes import markdown

    assert (REPO / "docs" / "status-codes.md").read_text() == markdown(), (
        "run: outguard codes --markdown > docs/status-codes.md"
    )


def test_codes_command(run) -> None:
    out = run("codes", "5.7.703").stdout
    assert out.startswith("550 5.7.703 Your message can't be delivered because messages to <recipients>")
    assert "What the admin can do:" in out
    assert "unknown status code '9.9.9'" in _error(run("codes", "9.9.9", ok=False))
