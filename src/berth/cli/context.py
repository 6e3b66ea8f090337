"""What every `berth` command that talks to a cluster shares: which cluster (the kubeconfig), which project,
and how a failure reaches the user (one short red line per problem, naming the field and the fix; the
traceback only with `--verbose`).

The cluster, first found wins: `--kubeconfig`, then `$KUBECONFIG` (its first existing file), then the
kubeconfig `berth up` wrote (`~/.berth/kubeconfig`, or `$BERTH_DATA_DIR/kubeconfig`), then
`~/.kube/config`. Only the Kubernetes API is used, so the same commands work against a real cluster.

The project, first found wins: `-p/--project`, then the default set by `berth config project NAME`
(`~/.config/berth/cli.yaml`, or `$BERTH_CLI_CONFIG`, one default per API server), then the namespace of the
kubeconfig's context when it is a project's (`runai-<project>`). Run:ai's CLI keeps the default in the
kubeconfig's namespace; Berth keeps it in a file of its own because `berth up` rewrites its kubeconfig at
every start (docs/cli.md).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import yaml

from berth.api.projects import PROJECT_NAMESPACE_PREFIX, namespace_of_project
from berth.api.registry import WORKLOADS

T = TypeVar("T")

DEFAULT_DATA_DIR = Path("~/.berth")


def berth_up_kubeconfig() -> Path:
    """Where `berth up` writes its kubeconfig by default."""
    return Path(os.environ.get("BERTH_DATA_DIR") or DEFAULT_DATA_DIR).expanduser() / "kubeconfig"


def kubeconfig_path(option: str | None) -> str | None:
    """The kubeconfig to use (None: let the client take ~/.kube/config), in the order of the module's
    docstring."""
    if option:
        return option
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    for path in listed:
        if Path(path).expanduser().is_file():
            return str(Path(path).expanduser())
    if listed:
        return listed[0]  # the client names the missing file in its error
    own = berth_up_kubeconfig()
    return str(own) if own.is_file() else None


def cli_config_path() -> Path:
    """The CLI's own settings file (the default project)."""
    return Path(os.environ.get("BERTH_CLI_CONFIG") or "~/.config/berth/cli.yaml").expanduser()


def read_cli_config() -> dict[str, Any]:
    path = cli_config_path()
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        return {}
    except (OSError, yaml.YAMLError) as exc:
        fail(f"{path} cannot be read ({exc}); fix or delete it")
    return loaded if isinstance(loaded, dict) else {}


def write_cli_config(config: dict[str, Any]) -> Path:
    """Replace the settings file atomically (a killed write leaves the old file whole)."""
    path = cli_config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(yaml.safe_dump(config, sort_keys=True))
    os.replace(temporary, path)
    return path


def fail(message: str, *, prefix: str = "error", code: int = 1) -> NoReturn:
    """Print each line of `message` in red on stderr and exit; with --verbose, the traceback first."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.find_root().params.get("verbose") and sys.exc_info()[0] is not None:
        traceback.print_exc()
    for line in message.splitlines() or [""]:
        click.secho(f"{prefix}: {line}", fg="red", err=True)
    sys.exit(code)


def explain_error(exc: BaseException) -> str:
    """A client error as the user should read it: the server's message, then each cause on a line of its
    own with the field it names (the server's messages already say the fix)."""
    from berth.client import ApiError, ConfigError, Unreachable

    if isinstance(exc, ApiError):
        lines = [exc.message]
        for cause in exc.causes:
            message = cause.get("message") or cause.get("reason") or ""
            field = cause.get("field")
            if message and message not in exc.message:
                lines.append(f"  {field}: {message}" if field and field not in message else f"  {message}")
        if exc.code == 401:
            lines.append("the server did not accept the credentials of the kubeconfig; pass --kubeconfig or "
                         "set KUBECONFIG to the one `berth up` printed")
        return "\n".join(lines)
    if isinstance(exc, Unreachable):
        return (f"{exc}\nis `berth up` running? pass --kubeconfig or set KUBECONFIG to the cluster's "
                f"kubeconfig")
    if isinstance(exc, ConfigError):
        return f"{exc}\nrun `berth up` first, or pass --kubeconfig or set KUBECONFIG"
    return str(exc)


@dataclass
class Target:
    """The cluster and project a command works on."""

    kubeconfig: str | None
    project: str | None  # None: none given and no default; commands that need one call `namespace()`

    def client(self, **kwargs: Any) -> Any:
        """A new `berth.client.Client` for this cluster (use it inside `run`)."""
        from berth.client import Client

        return Client.from_kubeconfig(self.kubeconfig, field_manager="berth-cli", **kwargs)

    def namespace(self) -> str:
        """The project's namespace, or a clear error when no project is known."""
        if not self.project:
            if current_server(self.kubeconfig) is None:
                fail("no cluster: no usable kubeconfig was found; run `berth up` first, or pass --kubeconfig or "
                     "set KUBECONFIG")
            fail("no project: pass -p PROJECT, or set a default with `berth config project NAME`")
        return namespace_of_project(self.project)


def default_project(kubeconfig: str | None) -> str | None:
    """The default project for this cluster: `berth config project`'s choice, else the kubeconfig
    context's namespace when it is a project's."""
    server = current_server(kubeconfig)
    chosen = (read_cli_config().get("projects") or {}).get(server or "")
    if chosen:
        return str(chosen)
    try:
        from berth.client._wire import kubeconfig as load

        namespace = load(kubeconfig).namespace or ""
    except Exception:  # noqa: BLE001 - no usable kubeconfig: the command's own connection says why
        return None
    if namespace.startswith(PROJECT_NAMESPACE_PREFIX):
        return namespace[len(PROJECT_NAMESPACE_PREFIX):]
    return None


def current_server(kubeconfig: str | None) -> str | None:
    """The API server URL of the kubeconfig's current context, or None when it cannot be read."""
    try:
        from berth.client._wire import kubeconfig as load

        return str(load(kubeconfig).cluster.server)
    except Exception:  # noqa: BLE001
        return None


def target(kubeconfig: str | None, project: str | None) -> Target:
    path = kubeconfig_path(kubeconfig)
    if project and project.startswith(PROJECT_NAMESPACE_PREFIX):
        project = project[len(PROJECT_NAMESPACE_PREFIX):]
    return Target(path, project or default_project(path))


def run(work: Callable[[], Awaitable[T]]) -> T:
    """Run one command's async work; a client error ends the command with `explain_error`'s message and
    exit status 1, Ctrl-C with status 130 and no traceback, a closed stdout with status 141."""
    from berth.client import ClientError

    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except ClientError as exc:
        fail(explain_error(exc))
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # `berth logs x | head`: the reader left; end as kubectl does (killed by SIGPIPE)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error flushing at exit
        sys.exit(128 + signal.SIGPIPE)


def complete_projects(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Project names for the shell, asked of the cluster with a short timeout; nothing on any failure (a
    completion never prints an error)."""
    try:
        path = kubeconfig_path(ctx.params.get("kubeconfig"))

        async def names() -> list[str]:
            from berth.client import Client

            async with Client.from_kubeconfig(path, field_manager="berth-cli", timeout=3) as client:
                return [p["metadata"]["name"] for p in await client.list("Project")]

        return [name for name in asyncio.run(names()) if name.startswith(incomplete)]
    except BaseException:  # noqa: BLE001
        return []


def cluster_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--kubeconfig` and `-p/--project` (project names complete in the shell), for every command that talks
    to a cluster."""
    func = click.option("-p", "--project", default=None, metavar="PROJECT", shell_complete=complete_projects,
                        help="The project (default: `berth config project`).")(func)
    return click.option("--kubeconfig", default=None, metavar="FILE", envvar=None,
                        help="Kubeconfig (default: $KUBECONFIG, else the one `berth up` wrote, else "
                             "~/.kube/config).")(func)


WORKLOAD_KINDS = tuple(k.kind for k in WORKLOADS)


async def find_workload(client: Any, namespace: str, name: str, kind: str | None = None,
                        among: tuple[str, ...] = WORKLOAD_KINDS) -> dict[str, Any]:
    """The workload NAME in the namespace: of `kind` when given, else of whichever of the kinds `among` (by
    default all four) has it (a name is unique across them in Run:ai's CLI; when two kinds share it, the error
    says to name the kind). A missing one is a clear error listing what the namespace holds."""
    from berth.client import NotFound

    kinds = (kind,) if kind else among
    found = []
    for candidate in kinds:
        try:
            found.append(await client.get(candidate, name, namespace))
        except NotFound:
            continue
    if len(found) == 1:
        return found[0]
    if found:
        kinds = " and ".join(obj["kind"] for obj in found)
        fail(f'both a {kinds} are named "{name}" in {namespace}; use the noun of one, e.g. '
             f"`berth training ...` or `berth workspace ...`")
    names = sorted({obj["metadata"]["name"] for k in kinds for obj in await client.list(k, namespace)})
    hint = f"; it has: {', '.join(names[:10])}" + (" ..." if len(names) > 10 else "") if names else "; it has none"
    what = kind or "workload"
    fail(f'no {what} "{name}" in project {namespace.removeprefix(PROJECT_NAMESPACE_PREFIX)} ({namespace}){hint}')


async def workload_pods(client: Any, namespace: str, name: str) -> list[dict[str, Any]]:
    """The pods of workload NAME (by the label the controllers put on each), oldest first."""
    from berth.api.wellknown import WORKLOAD_NAME_LABEL

    pods = list(await client.list("pods", namespace, labels={WORKLOAD_NAME_LABEL: name}))
    return sorted(pods, key=lambda pod: (pod["metadata"].get("creationTimestamp") or "", pod["metadata"]["name"]))
