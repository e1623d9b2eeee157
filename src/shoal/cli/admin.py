"""`shoal admin`: the operator's commands. Offline ones so far: check and diff."""

from __future__ import annotations

from pathlib import Path

import click

from shoal.cli.context import CliContext
from shoal.cli.descriptors import load_application, split_words
from shoal.cli.render import print_application, print_diff
from shoal.config.site import Site
from shoal.descriptor.diff import diff_applications
from shoal.errors import ShoalError


@click.group()
def admin() -> None:
    """Administer the grid: check and compare descriptors (start, deploy and stop follow)."""


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
