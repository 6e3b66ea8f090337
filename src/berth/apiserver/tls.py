"""Credentials of `berth up`: a self-signed CA and server certificate, the admin's bearer token, and the
kubeconfig that hands both to kubectl.

kubectl sends no token over plain HTTP, so Berth serves HTTPS by default. Everything is generated on
first start under `<data-dir>/pki` and reused afterwards; the server certificate is renewed when the
address it must cover changes. Files holding secrets are written 0600, atomically (a crash never leaves
half a key).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=3650)


@dataclass(frozen=True)
class Credentials:
    ca_cert: Path
    cert: Path
    key: Path
    token: str


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a file (readable by its owner only, unless `mode` says otherwise) atomically: a reader sees the
    old file or the whole new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _names(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(["127.0.0.1", "localhost", *hosts]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def new_ca(common_name: str = "berth-ca") -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed CA, valid for ten years."""
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def issue(ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, hosts: list[str],
          common_name: str) -> tuple[bytes, bytes]:
    """A serving certificate for `hosts` (and 127.0.0.1, localhost) signed by the CA, and its key, as PEM."""
    key = _key()
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_names(hosts)), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return pem(cert), _pem_key(key)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _ca(pki: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = pki / "ca.crt", pki / "ca.key"
    if cert_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return x509.load_pem_x509_certificate(cert_path.read_bytes()), key
    cert, key = new_ca()
    write_private(key_path, _pem_key(key))
    write_private(cert_path, pem(cert), 0o644)
    return cert, key


def _covers(cert_path: Path, hosts: list[str]) -> bool:
    return cert_path.exists() and covers(x509.load_pem_x509_certificate(cert_path.read_bytes()), hosts)


def covers(cert: x509.Certificate, hosts: list[str]) -> bool:
    """Whether a certificate names every one of `hosts` (and 127.0.0.1 and localhost, which `issue` adds)."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    present = set(sans)
    return all(name in present for name in _names(hosts))


def ensure_credentials(data_dir: Path, hosts: list[str]) -> Credentials:
    """The CA, a server certificate valid for `hosts`, and the admin token; made when missing."""
    pki = data_dir / "pki"
    pki.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = _ca(pki)
    cert_path, key_path = pki / "server.crt", pki / "server.key"
    if not (_covers(cert_path, hosts) and key_path.exists()):
        cert, key = issue(ca_cert, ca_key, hosts, "berth-apiserver")
        write_private(key_path, key)
        write_private(cert_path, cert, 0o644)
    token_path = data_dir / "token"
    if not token_path.exists():
        write_private(token_path, secrets.token_urlsafe(32).encode())
    return Credentials(pki / "ca.crt", cert_path, key_path, token_path.read_text().strip())


def write_kubeconfig(path: Path, server: str, *, ca_cert: Path | bytes | None, token: str | None,
                     user_name: str = "berth-admin", namespace: str = "default") -> Path:
    """A kubeconfig with one cluster and context named berth, and one user (`user_name`), in `namespace`;
    the current context.
    `ca_cert` is the CA's file, or its PEM bytes."""
    cluster: dict[str, object] = {"server": server}
    if ca_cert is not None:
        pem = ca_cert if isinstance(ca_cert, bytes) else ca_cert.read_bytes()
        cluster["certificate-authority-data"] = base64.b64encode(pem).decode()
    user: dict[str, object] = {"token": token} if token else {}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "berth", "cluster": cluster}],
        "users": [{"name": user_name, "user": user}],
        "contexts": [{"name": "berth", "context": {"cluster": "berth", "user": user_name, "namespace": namespace}}],
        "current-context": "berth",
        "preferences": {},
    }
    write_private(path, yaml.safe_dump(config, sort_keys=False).encode())
    return path
