"""`berth webhook`: serve policy admission to a real cluster's kube-apiserver; `berth webhook-certificate`:
make the certificate it serves with there."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from berth.cli.operator import KUBECONFIG_HELP


@click.command(name="webhook")
@click.option("--kubeconfig", default=None, help="Kubeconfig of the cluster to read policies from "
              "(default: in-cluster service account, else $KUBECONFIG or ~/.kube/config).")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", default=8443, show_default=True, type=int, help="Port to listen on.")
@click.option("--tls-cert-file", default=None, help="Serving certificate (PEM). Without it, one is made.")
@click.option("--tls-private-key-file", default=None, help="Key of --tls-cert-file (PEM).")
@click.option("--data-dir", default="~/.berth/webhook", show_default=True,
              help="Where a generated CA and certificate are kept.")
@click.option("--service-name", default="berth-webhook.runai.svc", show_default=True,
              help="DNS name the generated certificate is valid for (the webhook Service).")
def webhook(kubeconfig: str | None, host: str, port: int, tls_cert_file: str | None,
            tls_private_key_file: str | None, data_dir: str, service_name: str) -> None:
    """Serve AdmissionReview v1 at https://HOST:PORT/mutate: policy defaults as a JSONPatch, or a refusal.

    \b
    Examples:
      berth webhook --kubeconfig ~/.kube/config                # a certificate is made for the Service name
      berth webhook --tls-cert-file tls.crt --tls-private-key-file tls.key --port 9443
    """
    from berth.apiserver.tls import ensure_credentials
    from berth.client import Client
    from berth.webhook.server import serve

    if bool(tls_cert_file) != bool(tls_private_key_file):
        raise click.UsageError("give --tls-cert-file and --tls-private-key-file together")
    if not tls_cert_file:
        creds = ensure_credentials(Path(data_dir).expanduser(), [service_name, "127.0.0.1", "localhost"])
        tls_cert_file, tls_private_key_file = str(creds.cert), str(creds.key)
        click.echo(f"serving certificate: {creds.cert} (CA bundle for the webhook configuration: {creds.ca_cert})")
    client = Client.from_env(kubeconfig, field_manager="berth-webhook")
    click.echo(f"berth webhook on https://{host}:{port}/mutate, reading policies from {client.server}")
    try:
        asyncio.run(serve(client, host, port, tls_cert_file, tls_private_key_file))
    except KeyboardInterrupt:
        pass


@click.command(name="webhook-certificate")
@click.option("--kubeconfig", default=None, help=KUBECONFIG_HELP)
@click.option("--namespace", default="runai", show_default=True, help="Namespace of the webhook's Service and Secret.")
@click.option("--service", default="berth-webhook", show_default=True, help="The webhook's Service.")
@click.option("--secret", default="berth-webhook-tls", show_default=True,
              help="The kubernetes.io/tls Secret the operator's pods mount.")
@click.option("--configuration", default="berth", show_default=True,
              help="Name of the Mutating and ValidatingWebhookConfiguration whose CA bundle is written.")
def webhook_certificate(kubeconfig: str | None, namespace: str, service: str, secret: str, configuration: str) -> None:
    """Make the webhook's serving certificate (kept while it is valid) and write its CA into the webhook
    configurations: what deploy/'s one-shot Job runs where cert-manager is not installed.

    \b
    Examples:
      berth webhook-certificate                       # in the Job: its service account
      berth webhook-certificate --kubeconfig ~/.kube/config --namespace runai
    """
    from berth.client import Client, ClientError
    from berth.webhook.certificate import provision

    async def run() -> list[str]:
        async with Client.from_env(kubeconfig, field_manager="berth-webhook-certificate") as client:
            outcome = await provision(client, namespace, service, secret, configuration)
        if outcome.missing:
            raise click.ClickException("; ".join(outcome.lines(namespace, secret)))
        return outcome.lines(namespace, secret)

    try:
        for line in asyncio.run(run()):
            click.echo(line)
    except ClientError as exc:
        raise click.ClickException(str(exc)) from None
