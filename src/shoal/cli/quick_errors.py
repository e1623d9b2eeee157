"""The errors of the quick path (shoal.cli.quick), built by the full CLI's own code.

Imported only when something went wrong after a call was sent: the quick path then has time
to load the client and config modules, and a user reads the same words either way.
"""

from __future__ import annotations

from pathlib import Path

from shoal.cli.client import RegistryTarget
from shoal.cli.daemon import NodeFiles
from shoal.cli.grid import Grid
from shoal.cli.stop import still_running
from shoal.config.site import MASTER_NODE, Site
from shoal.errors import ShoalError, TimedOutError, UnreachableError
from shoal.rpc.detail import Peer
from shoal.rpc.frames import error_of, not_our_protocol
from shoal.rpc.frames import lost_connection as _lost
from shoal.rpc.frames import malformed_reply as _malformed


def _registry(prefix: str) -> Peer:
    return Peer.registry(RegistryTarget.for_site(Site(Path(prefix))).address)


def call_failed(prefix: str, is_error: bool, body: bytes) -> ShoalError:
    """An ERROR frame's error, or the answer of something that does not speak the protocol."""
    if is_error:
        return error_of(body)
    return not_our_protocol(_registry(prefix), "an unexpected first frame")


def lost_connection(prefix: str, cause: BaseException | None) -> UnreachableError:
    error = cause if isinstance(cause, OSError) else ConnectionResetError("connection lost")
    return _lost(_registry(prefix), error)


def malformed_reply(prefix: str, reply_name: str) -> ShoalError:
    return _malformed(reply_name, _registry(prefix))


def master_still_running(prefix: str, pid: int, wait: float) -> TimedOutError:
    site = Site(Path(prefix))
    return still_running(Grid(site, NodeFiles.load(site, MASTER_NODE)), pid, wait)
