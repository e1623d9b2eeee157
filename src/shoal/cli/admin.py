"""`shoal admin`: the operator's command group; check and diff here, each other command in its
own module (start, stop, status, deploy, diagnostics, ice)."""

from __future__ import annotations

from pathlib import Path

import click

from shoal.cli.console import ice
from shoal.cli.context import CliContext
from shoal.cli.deploy import deploy
from shoal.cli.descriptors import load_application, split_words
from shoal.cli.diagnostics import diagnostics
from shoal.cli.render import print_application, print_diff
from shoal.cli.start import restart, start
from shoal.cli.status import status, waitup
from shoal.cli.stop import stop, waitdown
from shoal.config.site import Site
from shoal.descriptor.diff import diff_applications
from shoal.errors import ShoalError


@click.group()
def admin() -> None:
    """Administer the grid: start, deploy, stop, status, diagnostics, the ice console."""


def _site_if_any(context: CliContext) -> Site | None:
    try:
        return context.site()
    except ShoalError:
        return None


@admin.command(context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1)
@click.pass_obj
def check(context: CliContext, words: tuple[str, ...]) -> None:
    """Validate a descriptor and print, per node, the servers it expands to.

    \b
    WORDS: [DESCRIPTOR] [TARGET...] [NAME=VALUE...]
    Without DESCRIPTOR, the site's etc/grid/default.xml is checked.
    """
    request = split_words(words, lambda: context.site().default_descriptor)
    application = load_application(request, _site_if_any(context))
    print_application(application, request.descriptor)


@admin.command(context_settings={"ignore_unknown_options": True})
@click.argument("old", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("new", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("words", nargs=-1)
@click.pass_obj
def diff(context: CliContext, old: Path, new: Path, words: tuple[str, ...]) -> None:
    """Show what deploying NEW over OLD would add, remove, restart and leave running.

    \b
    WORDS: [TARGET...] [NAME=VALUE...], applied to both descriptors.
    """
    site = _site_if_any(context)
    old_request = split_words([str(old), *words], lambda: old)
    new_request = split_words([str(new), *words], lambda: new)
    before = load_application(old_request, site)
    after = load_application(new_request, site)
    print_diff(diff_applications(before, after))


admin.add_command(start)
admin.add_command(restart)
admin.add_command(stop)
admin.add_command(waitdown)
admin.add_command(status)
admin.add_command(waitup)
admin.add_command(deploy)
admin.add_command(diagnostics)
admin.add_command(ice)
