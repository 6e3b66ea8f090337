"""A click Command that suggests the flag a user meant when they typed the start of one (`--al` ->
`--all-projects`): click already suggests close spellings (`--tial` -> `--tail`) and commands (`lst` ->
`list`), but not a flag cut short, for which its closest spelling is often `--help`."""

from __future__ import annotations

from typing import Any

import click


class Command(click.Command):
    """Use as `@click.command(cls=Command)`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            typed = exc.option_name
            if typed.startswith("--") and len(typed) > 2:
                names = sorted({name for param in self.get_params(ctx) for name in (*param.opts, *param.secondary_opts)
                                if name.startswith("--")})
                prefixed: list[Any] = [name for name in names if name.startswith(typed)]
                if prefixed:
                    exc.possibilities = prefixed
            raise
