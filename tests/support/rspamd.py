"""A real Rspamd for tests: `rspamd -f` with a private configuration in a temporary directory.

    with RspamdProcess(tmp_path) as rspamd:
        settings = SpamSettings(classifier="rspamd", rspamd_url=rspamd.url)

The configuration is the packaged one (/etc/rspamd) with a normal worker of its own on a free
loopback port, no controller or proxy, no Redis, and every module that would go to the network
(RBLs, SPF, DKIM, DMARC, fuzzy storage, remote maps...) off. DNS points at a closed loopback port
with a 0.1 s timeout, so whatever still asks fails at once instead of hanging: the machine has no
internet. The compiled Hyperscan cache is kept between runs (in the temp directory, per user):
building it takes 10-25 s, loading it well under one.

`lua` adds rules (`rspamd.local.lua`); `settings` adds entries to the settings module
(`local.d/settings.conf`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

from tests.support.mail import free_port

# Modules that query DNS, fetch remote maps or talk to servers the tests do not have.
NETWORK_MODULES = (
    "rbl", "surbl", "emails", "spf", "dkim", "dmarc", "arc", "asn", "fuzzy_check", "phishing",
    "rspamd_update", "url_redirector", "mx_check", "dcc", "external_services", "antivirus",
    "clickhouse", "elastic", "metadata_exporter", "metric_exporter", "bimi",
)  # fmt: skip

# Echoes the envelope Rspamd received as options of a zero-score symbol, so tests can prove that
# the protocol headers (From, Rcpt, IP, Helo, User, Queue-Id) arrive.
ENVELOPE_ECHO_LUA = """
rspamd_config:register_symbol{
  name = 'OG_ENVELOPE',
  score = 0.0,
  group = 'outguard_test',
  description = 'Outguard tests: the envelope Rspamd received',
  callback = function(task)
    local opts = {}
    local from = task:get_from('smtp')
    if from and from[1] then table.insert(opts, 'from=' .. (from[1].addr or '')) end
    for _, r in ipairs(task:get_recipients('smtp') or {}) do table.insert(opts, 'rcpt=' .. r.addr) end
    local ip = task:get_from_ip()
    if ip and ip:is_valid() then table.insert(opts, 'ip=' .. ip:to_string()) end
    local helo = task:get_helo()
    if helo then table.insert(opts, 'helo=' .. helo) end
    local user = task:get_user()
    if user then table.insert(opts, 'user=' .. user) end
    local qid = task:get_queue_id()
    if qid then table.insert(opts, 'qid=' .. qid) end
    task:insert_result('OG_ENVELOPE', 1.0, opts)
  end,
}
"""


class RspamdUnavailable(Exception):
    """No rspamd binary, or it did not come up."""


def rspamd_binary() -> str | None:
    return shutil.which("rspamd") or next(
        (p for p in ("/usr/bin/rspamd", "/usr/sbin/rspamd") if os.access(p, os.X_OK)), None
    )


class RspamdProcess:
    """One private Rspamd process (and its workers), started in the foreground."""

    def __init__(
        self,
        workdir: Path,
        *,
        lua: str = ENVELOPE_ECHO_LUA,
        settings: str = "",
        port: int | None = None,
        hs_cache: Path | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.lua = lua
        self.settings = settings
        self.port = port or free_port()
        self.hs_cache = hs_cache or Path(tempfile.gettempdir()) / f"outguard-rspamd-hs-{os.getuid()}"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "rspamd.log"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _configure(self) -> Path:
        local = self.workdir / "local"
        for d in (local / "local.d", local / "override.d", self.workdir / "db", self.hs_cache):
            d.mkdir(parents=True, exist_ok=True)
        for module in NETWORK_MODULES:
            (local / "local.d" / f"{module}.conf").write_text("enabled = false;\n")
        (local / "override.d" / "options.inc").write_text(
            f'pidfile = "{self.workdir}/rspamd.pid";\n'
            f'hs_cache_dir = "{self.hs_cache}";\n'
            # A closed port answers at once (ICMP refused): nothing waits on DNS.
            f'dns {{ nameserver = ["127.0.0.1:{free_port()}"]; timeout = 0.1s; retransmits = 0; sockets = 1; }}\n'
        )
        (local / "rspamd.local.lua").write_text(self.lua)
        (local / "local.d" / "settings.conf").write_text(self.settings)
        config = self.workdir / "rspamd.conf"
        config.write_text(
            '.include "$CONFDIR/common.conf"\n'
            "options {\n"
            '    .include "$CONFDIR/options.inc"\n'
            '    .include(priority=10) "$LOCAL_CONFDIR/override.d/options.inc"\n'
            "}\n"
            "logging {\n"
            '    type = "file";\n'
            f'    filename = "{self.log_path}";\n'
            '    .include "$CONFDIR/logging.inc"\n'
            "}\n"
            'worker "normal" {\n'
            f'    bind_socket = "127.0.0.1:{self.port}";\n'
            "    count = 1;\n"
            '    .include "$CONFDIR/worker-normal.inc"\n'
            "}\n"
        )
        return config

    def start(self, timeout: float = 90.0) -> RspamdProcess:
        binary = rspamd_binary()
        if binary is None:
            raise RspamdUnavailable("no rspamd binary (apt-get install rspamd)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self._configure()
        cmd = [binary, "-f", "-c", str(config)]
        if os.geteuid() == 0:
            cmd.append("--insecure")  # rspamd refuses to run its workers as root otherwise
        for name, path in (
            ("LOCAL_CONFDIR", self.workdir / "local"),
            ("DBDIR", self.workdir / "db"),
            ("RUNDIR", self.workdir),
            ("LOGDIR", self.workdir),
        ):
            cmd.append(f"--var={name}={path}")
        with open(self.workdir / "rspamd.out", "wb") as out:
            # A session of its own: stop() signals the main process and its workers together.
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0, trust_env=False) as client:
            while True:
                if self.proc.poll() is not None:
                    raise RspamdUnavailable(f"rspamd exited with {self.proc.returncode}: {self._tail()}")
                try:
                    if client.get(f"{self.url}/ping").text.strip() == "pong":
                        return self
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RspamdUnavailable(f"rspamd did not answer /ping within {timeout}s: {self._tail()}")
                time.sleep(0.1)

    def _tail(self) -> str:
        out = (self.workdir / "rspamd.out").read_text(errors="replace") if self.workdir.exists() else ""
        return (out + self.log())[-2000:]

    def stop(self) -> None:
        if self.proc is None:
            return
        # The whole session we started: the main process and its workers, even if main is gone.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
        self.proc.poll()
        self.proc = None

    def __enter__(self) -> RspamdProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
