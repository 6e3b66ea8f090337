"""Every everyday command, in its CLI v1 form and under every noun, documents itself with examples."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from berth.cli.main import cli

V1 = ["list", "describe", "logs", "delete", "suspend", "resume", "top", "config", "config project", "version",
      "completion"]
VERBS = ("list", "describe", "logs", "delete", "suspend", "resume")
NOUNS = ["workspace", "training", "training standard", "training pytorch", "pytorch", "tf", "mpi", "xgboost",
         "inference"]


def noun_verbs() -> list[str]:
    found = []
    for noun in NOUNS:
        group = cli
        for word in noun.split():
            group = group.commands[word]  # type: ignore[attr-defined]
        assert isinstance(group, click.Group)
        found += [f"{noun} {verb}" for verb in VERBS if verb in group.commands]
    return found


@pytest.mark.parametrize("command", V1 + noun_verbs())
def test_help_has_examples(command):
    result = CliRunner().invoke(cli, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Examples:\n" in result.output
    examples = result.output.split("Examples:", 1)[1]
    assert f"berth {command.split()[0]}" in examples or f"{command.split()[-1]}" in examples


def test_every_noun_has_the_everyday_verbs_and_inference_no_suspend():
    listed = noun_verbs()
    for noun in NOUNS:
        expected = [v for v in VERBS if noun != "inference" or v not in ("suspend", "resume")]
        assert [c.split()[-1] for c in listed if c.rsplit(" ", 1)[0] == noun] == expected
