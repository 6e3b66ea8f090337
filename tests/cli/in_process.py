"""`berth ARGS` run in the test's own process (click's runner), against a real cluster: for tests that run
the CLI many times, where starting Python for each would cost most of their time. What needs a real
process (signals, pipes, a terminal, the shell completion protocol) runs the console script instead."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping

from click.testing import CliRunner

from berth.cli.main import cli


def berth_in_process(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The whole `berth ARGS` command with `env`: its exit status, stdout and stderr. An exception that is
    not the command's own exit is a bug, not an answer: it is raised whole."""
    result = CliRunner().invoke(cli, list(args), env=dict(env), prog_name="berth")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(["berth", *args], result.exit_code, result.stdout, result.stderr)
