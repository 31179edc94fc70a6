"""`outguard ndr explain FILE [--json]`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from outguard.cli.main import app

BOUNCE = b"""From: MAILER-DAEMON@mx.example.org
Subject: Undelivered Mail Returned to Sender
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; bob@example.net
Action: failed
Status: 5.7.703
Diagnostic-Code: smtp; 550 5.7.703 Your message can't be delivered because messages to bob@example.net
 are blocked by your organization using Tenant Allow Block List

--B--
"""
KEYS = {"recipient", "action", "status", "reply_code", "reason", "diagnostic", "remote_mta", "explanation"}


def test_json_output_has_the_documented_shape(tmp_path: Path) -> None:
    path = tmp_path / "b.eml"
    path.write_bytes(BOUNCE)
    result = CliRunner().invoke(app, ["ndr", "explain", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"is_bounce", "kind", "reporting_mta", "recipients"}
    assert (data["is_bounce"], data["kind"], data["reporting_mta"]) == (True, "bounce", "mx.example.org")
    (rcpt,) = data["recipients"]
    assert set(rcpt) == KEYS and set(rcpt["explanation"]) == {"summary", "sender_fix", "admin_fix"}
    assert (rcpt["status"], rcpt["reply_code"]) == ("5.7.703", "550")
    assert "allow/block list" in rcpt["explanation"]["admin_fix"].lower()


def test_text_output_and_stdin() -> None:
    result = CliRunner().invoke(app, ["ndr", "explain", "-"], input=BOUNCE)
    assert result.exit_code == 0, result.output
    assert "bob@example.net" in result.stdout and "What your admin can do" in result.stdout


def test_missing_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ndr", "explain", str(tmp_path / "nope.eml")])
    assert result.exit_code == 1
    assert "no such file" in result.output


def test_installed_command_runs(tmp_path: Path) -> None:
    path = tmp_path / "b.eml"
    path.write_bytes(BOUNCE)
    exe = Path(sys.executable).parent / "outguard"
    proc = subprocess.run([str(exe), "ndr", "explain", str(path), "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["recipients"][0]["recipient"] == "bob@example.net"
