"""Typed settings: a TOML file overridden by `OUTGUARD_*` environment variables.

`[section] key` in the file is `OUTGUARD_SECTION__KEY` in the environment; top-level keys are
`OUTGUARD_KEY`. Unknown keys and bad values stop start-up with a message naming the key.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "OUTGUARD_"
# Environment variables that are not settings (the file's location, the test suite's switches).
NON_SETTING_ENV = {
    "OUTGUARD_CONFIG",
    "OUTGUARD_REQUIRE_SERVICES",
    "OUTGUARD_TEST_DATABASE_URL",
    "OUTGUARD_TEST_REDIS_URL",
    "OUTGUARD_ACTOR",
}


class ConfigError(Exception):
    """A configuration problem; the message names the key and the bad value."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(value: object) -> timedelta:
    """`90`, `30s`, `15m`, `24h`, `2d`, `1w` -> timedelta (a bare number is seconds)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str) and (m := _DURATION.match(value)):
        return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    raise ValueError(f"not a duration (use e.g. 30s, 15m, 24h, 2d): {value!r}")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _split_hostport(value: str, default_port: int | None = None) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep:
        if default_port is None:
            raise ValueError(f"expected host:port, got {value!r}")
        host, port = value, str(default_port)
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port, got {value!r}")
    return host, int(port)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SmtpSettings(_Section):
    hostname: str = ""  # the name in the greeting and in NDRs; defaults to the machine's FQDN
    max_message_size: int = Field(35 * 1024 * 1024, gt=0)
    max_connections: int = Field(200, gt=0)
    max_recipients: int = Field(1000, gt=0)
    timeout: Duration = timedelta(minutes=5)
    processes: int = Field(1, ge=1, le=64)  # worker processes sharing the port (SO_REUSEPORT)
    tls_cert: Path | None = None  # PEM; unset: a self-signed certificate generated into data_dir
    tls_key: Path | None = None
    client_ca: Path | None = None  # CAs trusted for client certificates (certificate connectors)
    auth_require_tls: bool = True
    # fsync the spool directory too after creating a message file. Journaling file systems (ext4,
    # XFS, btrfs) persist a new file's directory entry with the file's own fsync, so this is only
    # needed on ones that do not (ext2, ext4 without a journal) — as Postfix documents for its queue.
    fsync_directory: bool = False


class PolicySettings(_Section):
    unregistered_allowance: int = Field(100, ge=0)
    tabl_quota: int = Field(10_000, ge=1)  # block entries per tenant
    tabl_default_days: int = Field(30, ge=1, le=90)
    snapshot_refresh: Duration = timedelta(seconds=2)  # how often nodes look for config changes
    mode: dict[str, Literal["enforce", "observe"]] = {}  # per-rule override, e.g. {tabl = "observe"}


class AbuseSettings(_Section):
    spam_min_messages: int = Field(50, ge=1)
    spam_ratio: float = Field(0.3, gt=0, le=1)
    window: Duration = timedelta(hours=24)
    warn_at: float = Field(0.8, gt=0, lt=1)  # early warning at this share of the threshold
    webhook: str | None = None
    spam_action: Literal["high-risk", "reject"] = "high-risk"
    high_risk_smarthost: str | None = None  # host:port of the high-risk delivery pool

    @field_validator("high_risk_smarthost")
    @classmethod
    def _hostport(cls, v: str | None) -> str | None:
        if v:
            _split_hostport(v, 25)
        return v


class RestrictedSettings(_Section):
    external_per_hour: int = Field(500, ge=0)
    internal_per_hour: int = Field(1000, ge=0)
    per_day: int = Field(1000, ge=0)
    action: Literal["block-until-tomorrow", "block-until-released", "alert-only"] = "block-until-tomorrow"


class ReputationSettings(_Section):
    dnsbl_zones: list[str] = []
    dnsbl_timeout: Duration = timedelta(seconds=2)
    cache_ttl: Duration = timedelta(minutes=10)
    fail: Literal["open", "closed"] = "open"
    own_history: bool = True


class SpamSettings(_Section):
    classifier: Literal["builtin", "rspamd", "off"] = "builtin"
    rspamd_url: str = "http://127.0.0.1:11333"
    rspamd_timeout: Duration = timedelta(seconds=5)
    fail: Literal["open", "closed"] = "open"
    bulk_threshold: int = Field(7, ge=1, le=9)  # BCL at or above which a message counts as bulk
    # Rspamd: a settings id sent as `Settings-ID` (an outbound ruleset defined in Rspamd); unset: none.
    rspamd_settings_id: str | None = None
    # Built-in classifier: score at or above which a message is spam (Rspamd decides by its actions).
    score_threshold: float = Field(5.0, gt=0)
    # Built-in fuzzy body fingerprint: distinct recipients of near-identical bodies per tenant within
    # the window (FINGERPRINT_REPEAT, FINGERPRINT_MASS); memory bound in clusters per process (~1 KB
    # each: 20,000 is about 20 MB).
    fingerprint_window: Duration = timedelta(hours=1)
    fingerprint_repeat: int = Field(20, ge=2)
    fingerprint_mass: int = Field(200, ge=2)
    fingerprint_max_clusters: int = Field(20_000, ge=100)

    @field_validator("rspamd_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"expected http://HOST:PORT, got {v!r}")
        return v.rstrip("/")

    @field_validator("fingerprint_mass")
    @classmethod
    def _above_repeat(cls, v: int, info: Any) -> int:  # info: pydantic ValidationInfo
        repeat = info.data.get("fingerprint_repeat")
        if repeat is not None and v <= repeat:
            raise ValueError(f"must be above fingerprint_repeat ({repeat})")
        return v


class DeliverySettings(_Section):
    workers: int = Field(20, ge=1)  # concurrent outbound SMTP sessions per process
    retry_schedule: list[Duration] = [timedelta(minutes=m) for m in (1, 5, 15, 30, 60, 120, 240)]
    expiry: Duration = timedelta(days=2)
    delay_notice: Duration | None = timedelta(hours=4)
    connect_timeout: Duration = timedelta(seconds=30)
    command_timeout: Duration = timedelta(minutes=5)
    mx_port: int = Field(25, gt=0, lt=65536)
    tls: Literal["opportunistic", "none"] = "opportunistic"


class DnsSettings(_Section):
    nameservers: list[str] = []  # empty: the system resolver (/etc/resolv.conf)
    port: int = Field(53, gt=0, lt=65536)
    timeout: Duration = timedelta(seconds=5)


class TraceSettings(_Section):
    retention: Duration = timedelta(days=90)
    flush_interval: Duration = timedelta(milliseconds=500)


class Settings(_Section):
    data_dir: Path = Path("./outguard-data")
    database_url: str | None = None
    redis_url: str | None = None
    redis_prefix: str = "og:"  # key prefix, so several deployments can share one Redis
    smtp_listen: str = "127.0.0.1:2525"
    http_listen: str = "127.0.0.1:8025"
    smarthost: str | None = None
    smtp: SmtpSettings = SmtpSettings()
    policy: PolicySettings = PolicySettings()
    abuse: AbuseSettings = AbuseSettings()
    restricted: RestrictedSettings = RestrictedSettings()
    reputation: ReputationSettings = ReputationSettings()
    spam: SpamSettings = SpamSettings()
    delivery: DeliverySettings = DeliverySettings()
    dns: DnsSettings = DnsSettings()
    trace: TraceSettings = TraceSettings()

    @field_validator("smtp_listen", "http_listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        _split_hostport(v)
        return v

    @field_validator("smarthost")
    @classmethod
    def _smarthost(cls, v: str | None) -> str | None:
        if v:
            _split_hostport(v, 25)
        return v

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, v: str | None) -> str | None:
        if v and not v.startswith(("sqlite:", "postgresql:", "postgresql+", "postgres:")):
            raise ValueError(f"expected sqlite:///PATH or postgresql://..., got {v!r}")
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, v: str | None) -> str | None:
        if v and not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"expected redis://HOST:PORT/DB, got {v!r}")
        return v

    # Derived values -----------------------------------------------------------------------------

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'outguard.db').resolve()}"

    @property
    def smtp_address(self) -> tuple[str, int]:
        return _split_hostport(self.smtp_listen)

    @property
    def http_address(self) -> tuple[str, int]:
        return _split_hostport(self.http_listen)

    @property
    def smarthost_address(self) -> tuple[str, int] | None:
        return _split_hostport(self.smarthost, 25) if self.smarthost else None


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """`OUTGUARD_SECTION__KEY=value` -> {"section": {"key": value}}; values may be JSON/TOML-ish."""
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name in NON_SETTING_ENV:
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment variable {name}: conflicts with another variable")
        node[path[-1]] = _env_value(raw)
    return tree


def _env_value(raw: str) -> Any:
    # Lists and tables can be written as JSON (OUTGUARD_DNS__NAMESERVERS='["127.0.0.1"]').
    if raw[:1] in "[{":
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _describe(err: ValidationError, sources: dict[str, str]) -> str:
    problems = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"]]
        key = f"[{loc[0]}] {'.'.join(loc[1:])}" if len(loc) > 1 else loc[0]
        source = sources.get(".".join(loc[:2])) or sources.get(loc[0], "")
        got = "" if e["type"] == "extra_forbidden" else f" (got {e.get('input')!r})"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        problems.append(f"{key}: {msg}{got}{source}")
    return "configuration error: " + "; ".join(problems)


def _sources(tree: dict[str, Any], label: str, env: bool) -> dict[str, str]:
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict) and k not in ("mode",):
            for kk in v:
                name = f"OUTGUARD_{k.upper()}__{kk.upper()}" if env else label
                out[f"{k}.{kk}"] = f" in {name}"
        else:
            out[k] = f" in {f'OUTGUARD_{k.upper()}' if env else label}"
    return out


def load(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Load settings: explicit path, else $OUTGUARD_CONFIG, else ./outguard.toml if present."""
    environ = dict(os.environ if environ is None else environ)
    if path is None:
        path = environ.get("OUTGUARD_CONFIG") or (
            Path("outguard.toml") if Path("outguard.toml").exists() else None
        )
    file_tree: dict[str, Any] = {}
    label = ""
    if path is not None:
        p = Path(path)
        label = str(p)
        try:
            file_tree = tomllib.loads(p.read_text())
        except FileNotFoundError:
            raise ConfigError(f"configuration error: file not found: {p}")
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"configuration error: {p}: invalid TOML: {e}")
    env_tree = _env_overrides(environ)
    sources = _sources(file_tree, label, env=False) | _sources(env_tree, "", env=True)
    try:
        return Settings.model_validate(_merge(file_tree, env_tree))
    except ValidationError as e:
        raise ConfigError(_describe(e, sources)) from None
