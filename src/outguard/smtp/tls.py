"""TLS for the SMTP listener: the configured certificate, or a self-signed one made on first start.

Client certificates are requested (not required) and verified against `[smtp] client_ca`, or the
system's public CAs; a verified certificate's names are what certificate connectors match.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import ssl
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from outguard.config import Settings

log = logging.getLogger("outguard.tls")


def self_signed(cert_path: Path, key_path: Path, hostname: str) -> None:
    """Write a self-signed certificate for `hostname` (ECDSA P-256, ten years)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(hostname)]
    try:
        sans.append(x509.IPAddress(ipaddress.ip_address(hostname)))
    except ValueError:
        pass
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pem_cert = cert.public_bytes(serialization.Encoding.PEM)
    for path, data, mode in ((key_path, pem_key, 0o600), (cert_path, pem_cert, 0o644)):
        tmp = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)  # never a half-written file under the real name


def certificate_files(settings: Settings, hostname: str) -> tuple[Path, Path]:
    """The configured certificate and key, or the self-signed pair in data_dir (made on first use).

    `serve` calls this before it starts its processes, so they never race to make the pair."""
    cfg = settings.smtp
    if cfg.tls_cert and cfg.tls_key:
        return cfg.tls_cert, cfg.tls_key
    cert, key = settings.data_dir / "tls" / "smtp.crt", settings.data_dir / "tls" / "smtp.key"
    if not cert.exists() or not key.exists():
        log.info("generating a self-signed certificate for %s in %s", hostname, cert.parent)
        self_signed(cert, key, hostname)
    return cert, key


def server_context(settings: Settings, hostname: str, *, request_client_cert: bool = True) -> ssl.SSLContext:
    """The listener's TLS context. With `request_client_cert`, clients are asked for a certificate,
    which is verified: Python's ssl cannot ask and then accept an unverifiable one, so a client
    presenting one fails the handshake — the node only asks while certificate connectors exist."""
    cfg = settings.smtp
    cert, key = certificate_files(settings, hostname)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    if not request_client_cert:
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx.verify_mode = ssl.CERT_OPTIONAL
    if cfg.client_ca:
        ctx.load_verify_locations(cafile=str(cfg.client_ca))
    else:
        ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    return ctx


def certificate_names(peercert: dict[str, Any] | None) -> list[str]:
    """DNS names of a verified peer certificate: SAN DNS entries, then the subject CN (lower case)."""
    if not peercert:
        return []
    names = [v.lower() for k, v in peercert.get("subjectAltName", ()) if k == "DNS"]
    for rdn in peercert.get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                names.append(v.lower())
    return list(dict.fromkeys(names))
