"""Settings: the contract's keys and defaults, TOML + environment, and errors that name the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from outguard.config import ConfigError, load, parse_duration


def test_defaults_are_the_contract() -> None:
    s = load(environ={})
    assert s.data_dir == Path("./outguard-data")
    assert s.db_url.endswith("outguard-data/outguard.db") and s.db_url.startswith("sqlite:///")
    assert s.redis_url is None and s.smarthost is None
    assert s.smtp_listen == "127.0.0.1:2525" and s.http_listen == "127.0.0.1:8025"
    assert s.policy.unregistered_allowance == 100
    assert s.abuse.spam_min_messages == 50 and s.abuse.spam_ratio == 0.3
    assert s.abuse.window == timedelta(hours=24)
    assert s.smtp.max_message_size == 35 * 1024 * 1024
    assert s.delivery.expiry == timedelta(days=2)


def test_file_then_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "outguard.toml"
    cfg.write_text(
        'smtp_listen = "0.0.0.0:25"\n[policy]\nunregistered_allowance = 5\n[abuse]\nwindow = "12h"\n'
    )
    s = load(
        cfg, environ={"OUTGUARD_POLICY__UNREGISTERED_ALLOWANCE": "7", "OUTGUARD_REDIS_URL": "redis://h:1/0"}
    )
    assert s.smtp_listen == "0.0.0.0:25"
    assert s.policy.unregistered_allowance == 7  # environment wins
    assert s.abuse.window == timedelta(hours=12)
    assert s.redis_url == "redis://h:1/0"


def test_config_file_from_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "x.toml"
    cfg.write_text('http_listen = "127.0.0.1:9999"\n')
    assert load(environ={"OUTGUARD_CONFIG": str(cfg)}).http_listen == "127.0.0.1:9999"


def test_lists_from_environment_as_json() -> None:
    s = load(environ={"OUTGUARD_DNS__NAMESERVERS": '["127.0.0.1", "::1"]'})
    assert s.dns.nameservers == ["127.0.0.1", "::1"]


@pytest.mark.parametrize(
    ("toml", "env", "named"),
    [
        ("[policy]\nunregistered_allowence = 5\n", {}, "[policy] unregistered_allowence: unknown key"),
        ("colour = 'red'\n", {}, "colour: unknown key"),
        ("", {"OUTGUARD_ABUSE__SPAM_RATIO": "2"}, "[abuse] spam_ratio"),
        ("", {"OUTGUARD_ABUSE__WINDOW": "soon"}, "[abuse] window"),
        ("", {"OUTGUARD_SMTP_LISTEN": "nowhere"}, "smtp_listen"),
        ("", {"OUTGUARD_DATABASE_URL": "mysql://x"}, "database_url"),
        ("", {"OUTGUARD_FROB": "1"}, "frob: unknown key in OUTGUARD_FROB"),
        ("[policy]\nunregistered_allowance = -1\n", {}, "[policy] unregistered_allowance"),
    ],
)
def test_bad_configuration_names_the_key(tmp_path: Path, toml: str, env: dict[str, str], named: str) -> None:
    cfg = tmp_path / "outguard.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load(cfg, environ=env)
    assert named in str(err.value)


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[policy\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load(bad, environ={})
    with pytest.raises(ConfigError, match="file not found"):
        load(tmp_path / "missing.toml", environ={})


@pytest.mark.parametrize(
    ("raw", "seconds"), [("30s", 30), ("15m", 900), ("24h", 86400), ("2d", 172800), (90, 90), ("1.5h", 5400)]
)
def test_durations(raw: object, seconds: float) -> None:
    assert parse_duration(raw).total_seconds() == seconds
