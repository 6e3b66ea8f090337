"""The webhook's serving certificate on a cluster without cert-manager: `berth webhook-certificate`, run once
by deploy/'s Job at each install or upgrade.

kube-apiserver calls the webhook over HTTPS at `<service>.<namespace>.svc` and trusts the CA written in each
webhook's `clientConfig.caBundle`. This makes a CA and a certificate for the Service's names, keeps them in a
`kubernetes.io/tls` Secret (tls.crt, tls.key, ca.crt: what the operator's pods mount), and writes the CA into
the webhook configurations. Run again, it keeps a Secret that still covers the names for longer than
`RENEW_BEFORE` and only writes the CA bundle again, so the operator's pods keep their certificate.
"""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from berth.apiserver.tls import covers, issue, new_ca, pem
from berth.client import Client, NotFound

RENEW_BEFORE = datetime.timedelta(days=30)
CONFIGURATION_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def service_hosts(service: str, namespace: str) -> list[str]:
    """The names kube-apiserver may reach the Service by."""
    return [service, f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]


def _decoded(secret: dict[str, Any] | None, key: str) -> bytes:
    value = ((secret or {}).get("data") or {}).get(key) or ""
    try:
        return base64.b64decode(value)
    except ValueError:
        return b""


def still_good(secret: dict[str, Any] | None, hosts: list[str], now: datetime.datetime) -> bool:
    """Whether a Secret holds a certificate, key and CA that cover `hosts` for longer than RENEW_BEFORE."""
    cert_pem, key_pem, ca_pem = (_decoded(secret, k) for k in ("tls.crt", "tls.key", "ca.crt"))
    if not (cert_pem and key_pem and ca_pem):
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        x509.load_pem_x509_certificate(ca_pem)
    except ValueError:
        return False
    return covers(cert, hosts) and cert.not_valid_after_utc - now > RENEW_BEFORE


@dataclass
class Outcome:
    """What `provision` did, for the Job's log."""

    made: bool = False  # a new certificate (else the Secret's was kept)
    patched: list[str] = field(default_factory=list)  # the configurations whose CA bundle was written
    missing: list[str] = field(default_factory=list)  # configurations not found

    def lines(self, namespace: str, secret: str) -> list[str]:
        said = [f"secret {namespace}/{secret}: " + ("a new certificate" if self.made else "kept (still valid)")]
        said += [f"{name}: CA bundle written" for name in self.patched]
        said += [f"{name}: not found (apply deploy/ first)" for name in self.missing]
        return said


async def provision(client: Client, namespace: str, service: str, secret: str, configuration: str) -> Outcome:
    """Make (or keep) the Secret and write its CA into the webhook configurations named `configuration`."""
    hosts = service_hosts(service, namespace)
    outcome = Outcome()
    try:
        current: dict[str, Any] | None = await client.get("Secret", secret, namespace)
    except NotFound:
        current = None
    if still_good(current, hosts, datetime.datetime.now(datetime.timezone.utc)):
        ca_pem = _decoded(current, "ca.crt")
    else:
        ca_cert, ca_key = new_ca(f"{service}-ca")
        cert_pem, key_pem = issue(ca_cert, ca_key, hosts, f"{service}.{namespace}.svc")
        ca_pem = pem(ca_cert)
        data = {k: base64.b64encode(v).decode() for k, v in
                (("tls.crt", cert_pem), ("tls.key", key_pem), ("ca.crt", ca_pem))}
        wanted = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls", "data": data,
                  "metadata": {"name": secret, "namespace": namespace,
                               "labels": {"app.kubernetes.io/part-of": "berth"}}}
        if current is None:
            await client.create(wanted)
        else:
            wanted["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            await client.replace(wanted)
        outcome.made = True
    bundle = base64.b64encode(ca_pem).decode()
    for kind in CONFIGURATION_KINDS:
        try:
            found = await client.get(kind, configuration)
        except NotFound:
            outcome.missing.append(f"{kind}/{configuration}")
            continue
        ops = [{"op": "add", "path": f"/webhooks/{i}/clientConfig/caBundle", "value": bundle}
               for i, _ in enumerate(found.get("webhooks") or [])]
        if ops:
            await client.patch(kind, configuration, ops, type="json")
        outcome.patched.append(f"{kind}/{configuration}")
    return outcome
