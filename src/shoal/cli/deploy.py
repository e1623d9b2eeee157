"""`shoal admin deploy`: validate a descriptor here, send it (Admin.Deploy), print the changes."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from shoal.cli.context import CliContext
from shoal.cli.descriptors import DeployRequest, reserved_variables, split_words
from shoal.cli.grid import Grid
from shoal.cli.render import GREEN, RED, YELLOW, StyledLines, wants_colour
from shoal.config.site import Site
from shoal.errors import DescriptorError, Problem
from shoal.rpc import admin_pb2

if TYPE_CHECKING:
    from shoal.descriptor.model import Application

__all__ = ["build_request", "deploy", "print_deploy_reply"]


def build_request(
    words: DeployRequest,
    site: Site | None,
    mode: admin_pb2.DeployRequest.Mode = admin_pb2.DeployRequest.ADD_OR_UPDATE,
) -> tuple[admin_pb2.DeployRequest, Application]:
    """Parse and expand (an invalid descriptor raises DescriptorError: nothing is sent), then
    the canonical XML with includes inlined and targets applied, as Admin.Deploy takes it."""
    # The descriptor engine (lxml) is loaded here, not when the admin console starts.
    from shoal.descriptor.expand import expand
    from shoal.descriptor.parser import parse_file
    from shoal.descriptor.writer import write_descriptor

    written = parse_file(words.descriptor, targets=words.targets)
    application = expand(
        written,
        targets=words.targets,
        variables=words.variables,
        reserved=reserved_variables(site),
    )
    try:
        xml = write_descriptor(written)
    except ValueError as exc:
        raise DescriptorError([Problem(str(words.descriptor), 0, str(exc))]) from exc
    request = admin_pb2.DeployRequest(
        descriptor_xml=xml,
        source_name=str(words.descriptor),
        targets=list(words.targets),
        variables=dict(words.variables),
        mode=mode,
    )
    return request, application


def print_deploy_reply(reply: admin_pb2.DeployReply) -> None:
    """One summary line, then one line per server that changed (unchanged ones counted)."""
    out = StyledLines(wants_colour(sys.stdout))
    verb = "created" if reply.created else "updated"
    # A changed server that was not running is reloaded, not restarted; one that took new
    # properties without a restart (--no-restart) is updated: say so in both places.
    live = sum(1 for changed in reply.restarted if changed.live)
    running = sum(1 for changed in reply.restarted if changed.running) - live
    reloaded = len(reply.restarted) - running - live
    out.add(
        f"application {reply.application} {verb} (revision {reply.revision}): "
        f"{len(reply.added)} added, {len(reply.removed)} removed, {running} restarted, "
        + (f"{live} updated without a restart, " if live else "")
        + (f"{reloaded} reloaded, " if reloaded else "")
        + f"{len(reply.unchanged)} unchanged"
    )
    for server_id in reply.added:
        out.add(f"  {out.styled('added', GREEN)}      {server_id}")
    for server_id in reply.removed:
        out.add(f"  {out.styled('removed', RED)}    {server_id}")
    for changed in reply.restarted:
        fields = ", ".join(changed.changed_fields) or "description"
        verb = "updated  " if changed.live else "restarted" if changed.running else "reloaded "
        out.add(f"  {out.styled(verb, YELLOW)}  {changed.server_id} ({fields})")
    for server_id in reply.unchanged:
        out.add(f"  unchanged  {server_id}")
    out.write(sys.stdout)


@click.command(context_settings={"ignore_unknown_options": True})
@click.option(
    "-n",
    "--no-restart",
    is_flag=True,
    help="Push property changes to running servers without restarting them; refuse any other"
    " change to a running server (nothing is deployed then).",
)
@click.argument("words", nargs=-1)
@click.pass_obj
def deploy(context: CliContext, no_restart: bool, words: tuple[str, ...]) -> None:
    """Deploy a descriptor to the running grid: only servers whose description changed restart.

    \b
    WORDS: [DESCRIPTOR] [TARGET...] [NAME=VALUE...]
    Without DESCRIPTOR, the site's etc/grid/default.xml is deployed.
    """
    grid = Grid.load(context)
    request, _ = build_request(split_words(words, lambda: grid.site.default_descriptor), grid.site)
    request.no_restart = no_restart
    with grid.client() as client:
        reply = client.run(client.api.deploy(request))
    print_deploy_reply(reply)
