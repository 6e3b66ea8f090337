"""`berth operator`, and `berth controllers` and `berth scheduler`: run Berth's controllers, scheduler and
webhook against any Kubernetes API (a real cluster, or a `berth up` started without them). The operator runs
them with leader election, as `deploy/` installs it; the other two run one component, without it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from berth.client import Client

KUBECONFIG_HELP = "Kubeconfig of the cluster (default: in-cluster service account, else $KUBECONFIG or ~/.kube/config)."


def _client(kubeconfig: str | None, manager: str) -> Client:
    from berth.client import Client

    return Client.from_env(kubeconfig, field_manager=manager)


@click.command(name="operator")
@click.option("--kubeconfig", default=None, help=KUBECONFIG_HELP)
@click.option("--namespace", default=None, help="Namespace of the leader Lease (default: the pod's own, else runai).")
@click.option("--lease-name", default="berth-operator", show_default=True, help="Name of the leader Lease.")
@click.option("--identity", default=None, help="This replica's name in the Lease (default: host name and a "
              "random suffix).")
@click.option("--lease-duration", default=10.0, show_default=True, type=float,
              help="Seconds the Lease holds without renewal: a dead leader is replaced after about this long.")
@click.option("--lease-renew-deadline", default=7.0, show_default=True, type=float,
              help="Seconds a leader keeps trying to renew before it stops acting.")
@click.option("--lease-retry", default=2.0, show_default=True, type=float, help="Seconds between tries.")
@click.option("--no-controllers", is_flag=True, help="Do not run the controllers.")
@click.option("--no-scheduler", is_flag=True, help="Do not run the scheduler.")
@click.option("--default-scheduler", is_flag=True, help="Also place pods that name no scheduler (only where "
              "Berth's scheduler is the cluster's only one; otherwise it leaves them to theirs).")
@click.option("--gpu-reservations/--no-gpu-reservations", default=True, show_default=True,
              help="Hold each shared GPU (fractions, GPU memory) with a reservation pod asking nvidia.com/gpu, as "
              "a real cluster's kubelets need; off where the nodes are berth up's, which read the device "
              "annotation.")
@click.option("--reservation-image", default=None, help="Image of the reservation pods (default: the operator's "
              "own, read from its pod).")
@click.option("--webhook-port", default=8443, show_default=True, type=int, help="HTTPS port of the admission "
              "webhook (/mutate, /validate); 0: no webhook.")
@click.option("--cert-dir", default="/etc/berth/webhook", show_default=True, help="Folder with the webhook's "
              "serving certificate (tls.crt, tls.key, as a kubernetes.io/tls Secret mounts them). When it has "
              "none, one is made in ~/.berth/webhook.")
@click.option("--reservation-idle", default=None, type=float, hidden=True,
              help="Seconds an unused GPU reservation pod is kept (default 30).")
@click.option("--certificate-check-interval", default=30.0, type=float, hidden=True,
              help="Seconds between looks for a renewed webhook certificate.")
@click.option("--probe-port", default=8081, show_default=True, type=int,
              help="Plain HTTP port of /healthz, /readyz and /metrics; 0: none.")
def operator(kubeconfig: str | None, namespace: str | None, lease_name: str, identity: str | None,
             lease_duration: float, lease_renew_deadline: float, lease_retry: float, no_controllers: bool,
             no_scheduler: bool, default_scheduler: bool, gpu_reservations: bool, reservation_image: str | None,
             reservation_idle: float | None, webhook_port: int, cert_dir: str, certificate_check_interval: float,
             probe_port: int) -> None:
    """Run the controllers, the scheduler and the admission webhook against a Kubernetes API, with leader
    election: of several replicas one runs the controllers and the scheduler, every one serves the webhook.

    \b
    Examples:
      berth operator                                 # in a pod: its service account (deploy/ runs it so)
      berth operator --kubeconfig ~/.kube/config     # from a workstation, against a cluster
      berth up --no-controllers --no-scheduler &     # berth up's API alone, and the operator beside it:
      berth operator --kubeconfig ~/.berth/kubeconfig --default-scheduler --no-gpu-reservations --webhook-port 0
    """
    from berth.client import ConfigError
    from berth.operator.lease import Timing
    from berth.operator.run import NO_IMAGE, Options, default_identity, default_namespace, main, own_pod

    if gpu_reservations and not no_scheduler and not reservation_image and own_pod() is None:
        raise click.UsageError(NO_IMAGE)
    timing = Timing(lease_duration, lease_renew_deadline, lease_retry)
    if timing.problems():
        raise click.UsageError("; ".join(timing.problems()))
    cert = key = None
    if webhook_port:
        cert, key = _serving_certificate(Path(cert_dir))
    options = Options(kubeconfig=kubeconfig, namespace=namespace or default_namespace(), lease_name=lease_name,
                      identity=identity or default_identity(), timing=timing, controllers=not no_controllers,
                      scheduler=not no_scheduler, serve_default=default_scheduler, gpu_reservations=gpu_reservations,
                      reservation_image=reservation_image, reservation_idle_s=reservation_idle,
                      webhook_port=webhook_port, webhook_cert=cert, webhook_key=key,
                      certificate_check_s=certificate_check_interval, probe_port=probe_port)
    try:
        sys.exit(main(options, announce=click.echo))
    except ConfigError as exc:
        raise click.ClickException(f"{exc}; give the cluster's kubeconfig with --kubeconfig") from None
    except KeyboardInterrupt:
        pass


def _serving_certificate(cert_dir: Path) -> tuple[str, str]:
    """The webhook's certificate and key: those in `cert_dir`, else one made (and kept) for this machine."""
    from berth.apiserver.tls import ensure_credentials

    cert, key = cert_dir / "tls.crt", cert_dir / "tls.key"
    if cert.exists() and key.exists():
        return str(cert), str(key)
    made = ensure_credentials(Path("~/.berth/webhook").expanduser(), ["127.0.0.1", "localhost"])
    click.echo(f"no certificate in {cert_dir}: serving the webhook with {made.cert} (CA: {made.ca_cert})")
    return str(made.cert), str(made.key)


@click.command(name="controllers")
@click.option("--kubeconfig", default=None, help=KUBECONFIG_HELP)
def controllers(kubeconfig: str | None) -> None:
    """Run the project, workload and usage controllers until interrupted.

    \b
    Examples:
      berth up --no-controllers &                # a control plane without them
      berth controllers --kubeconfig ~/.berth/kubeconfig
      berth controllers                          # in a pod: its service account
    """
    from berth.operator import components

    async def run() -> None:
        async with _client(kubeconfig, "berth-controllers") as client:
            click.echo(f"berth controllers working on {client.server}")
            await components.controllers(client)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


@click.command(name="scheduler")
@click.option("--kubeconfig", default=None, help=KUBECONFIG_HELP)
def scheduler(kubeconfig: str | None) -> None:
    """Run the GPU scheduler (runai-scheduler) until interrupted.

    \b
    Examples:
      berth up --no-scheduler &                  # a control plane without it
      berth scheduler --kubeconfig ~/.berth/kubeconfig
    """
    from berth.operator import components

    async def run() -> None:
        async with _client(kubeconfig, "runai-scheduler") as client:
            click.echo(f"runai-scheduler working on {client.server}")
            await components.scheduler(client, serve_default=False)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


@click.command(name="gpu-reservation", hidden=True)
def gpu_reservation() -> None:
    """What a GPU reservation pod runs (berth.api.sharing): print the GPU the device plugin gave this container
    (its UUID, from NVIDIA_VISIBLE_DEVICES or else nvidia-smi), then hold it until stopped.

    \b
    Examples:
      berth gpu-reservation        # in a pod asking nvidia.com/gpu: 1 (the scheduler makes it)
    """
    import os
    import signal
    import subprocess

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # before the line: whoever reads it may stop us at once
    given = os.environ.get("NVIDIA_VISIBLE_DEVICES", "").strip()
    if not given or given in ("all", "none", "void"):  # a device plugin that mounts devices (CDI) sets no list
        try:
            found = subprocess.run(["nvidia-smi", "--query-gpu=uuid", "--format=csv,noheader"], capture_output=True,
                                   text=True, timeout=30)
            given = ",".join(line.strip() for line in found.stdout.splitlines() if line.strip())
        except (OSError, subprocess.TimeoutExpired):
            given = ""
    if not given:
        click.echo("no GPU is visible to this container: is it given nvidia.com/gpu by the NVIDIA device plugin?",
                   err=True)
        sys.exit(1)
    click.echo(given, nl=True)
    sys.stdout.flush()
    while True:
        signal.pause()
