"""`shoal admin check` and `diff`: the descriptor commands, which need no running grid."""

from __future__ import annotations

from pathlib import Path

import click

from shoal.cli.context import CliContext
from shoal.cli.descriptors import load_checked, print_warnings, split_words
from shoal.cli.render import print_application, print_diff
from shoal.config.site import Site
from shoal.descriptor.diff import diff_applications
from shoal.errors import ShoalError


def _site_if_any(context: CliContext) -> Site | None:
    try:
        return context.site()
    except ShoalError:
        return None


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1)
@click.pass_obj
def check(context: CliContext, words: tuple[str, ...]) -> None:
    """Validate a descriptor and print, per node, the servers it expands to.

    \b
    WORDS: [DESCRIPTOR] [TARGET...] [NAME=VALUE...]
    Without DESCRIPTOR, the site's etc/grid/default.xml is checked.
    """
    request = split_words(words, lambda: context.site().default_descriptor)
    loaded = load_checked(request, _site_if_any(context))
    print_application(loaded.application, request.descriptor)
    print_warnings(loaded.warnings)


@click.command(context_settings={"ignore_unknown_options": True})
@click.option(
    "--exit-code", is_flag=True, help="Exit with 1 when there are differences (as git diff)."
)
@click.argument("old", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("new", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("words", nargs=-1)
@click.pass_obj
def diff(
    context: CliContext, exit_code: bool, old: Path, new: Path, words: tuple[str, ...]
) -> None:
    """Show what deploying NEW over OLD would add, remove, restart and leave running.

    \b
    WORDS: [TARGET...] [NAME=VALUE...], applied to both descriptors.
    """
    site = _site_if_any(context)
    old_request = split_words([str(old), *words], lambda: old)
    new_request = split_words([str(new), *words], lambda: new)
    before = load_checked(old_request, site)
    after = load_checked(new_request, site)
    changes = diff_applications(before.application, after.application)
    print_diff(changes, before.application, after.application, old, new)
    # A target or variable is only suspicious when neither descriptor uses it.
    print_warnings([w for w in before.warnings if w in after.warnings])
    renamed = before.application.name != after.application.name
    if renamed:
        print_warnings(
            [
                f"the descriptors name different applications (`{before.application.name}', "
                f"`{after.application.name}'): a deploy of {new} would add a new application "
                f"`{after.application.name}', not update `{before.application.name}'"
            ]
        )
    if exit_code and (renamed or not changes.is_empty):
        raise click.exceptions.Exit(1)
