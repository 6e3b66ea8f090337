"""Every `berth` command documents itself with examples: the whole command tree is walked, so a command
added without them fails here."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from berth.cli.main import cli


def commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name)


def test_the_tree_holds_both_cli_generations():
    found = {" ".join(path) for path in commands()}
    for expected in ("submit", "submit-dist pytorch", "submit-inference", "list", "describe", "logs", "delete",
                     "training submit", "training pytorch submit", "pytorch submit", "workspace submit",
                     "inference submit", "training list", "workspace describe"):
        assert expected in found


@pytest.mark.parametrize("path", [" ".join(p) for p in commands()])
def test_every_command_has_examples(path):
    result = CliRunner().invoke(cli, [*path.split(), "--help"], terminal_width=120)
    assert result.exit_code == 0, result.output
    assert "Examples:" in result.output, f"`berth {path} --help` shows no examples"
    examples = result.output.split("Examples:", 1)[1]
    assert "berth " in examples, f"`berth {path} --help`: its examples show no berth command"
