"""`adapter remove` and the `object` commands against a fake registry: the words they take,
what they send, and icegridadmin's output shapes (`object list` one identity a line, `object
find` one proxy a line, `object describe` `proxy = `...'` and `type = `...'`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from shoal.cli.client import AdminApi, AdminClient, RegistryTarget
from shoal.cli.console import execute
from shoal.cli.console_commands import COMMANDS, Output, Session, resolve
from shoal.cli.errors import ConsoleUsageError
from shoal.config.endpoints import parse_endpoint
from shoal.errors import InvalidArgumentError
from shoal.registry.objects import matches
from shoal.rpc import admin_pb2
from shoal.rpc.wire import WireServer

GREETER = admin_pb2.ObjectInfo(
    identity="hello/greeter",
    proxy="hello/greeter@HelloServer.Hello",
    type="::hello::Greeter",
    adapter_id="HelloServer.Hello",
    application="Hello",
)
THING = admin_pb2.ObjectInfo(identity="thing", proxy="thing:tcp -h 127.0.0.1 -p 4000", type="::T")


class FakeAdmin:
    """Two objects (one declared); records what is added and removed."""

    def __init__(self) -> None:
        self.objects = [GREETER, THING]
        self.added: list[tuple[str, str]] = []
        self.removed: list[str] = []

    async def ObjectList(self, request: Any, context: Any) -> Any:
        return admin_pb2.ObjectListReply(
            objects=[
                o
                for o in self.objects
                if matches(request.expression, o.identity)
                and (not request.type or o.type == request.type)
            ]
        )

    async def ObjectAdd(self, request: Any, context: Any) -> Any:
        self.added.append((request.proxy, request.type))
        return admin_pb2.ObjectAddReply(object=admin_pb2.ObjectInfo(proxy=request.proxy))

    async def ObjectRemove(self, request: Any, context: Any) -> Any:
        if request.identity == GREETER.identity:
            raise InvalidArgumentError(
                "removing object `hello/greeter' is not allowed: the object was added with the"
                " application descriptor `Hello'"
            )
        self.removed.append(request.identity)
        return admin_pb2.ObjectRemoveReply()

    async def AdapterRemove(self, request: Any, context: Any) -> Any:
        self.removed.append(request.adapter_id)
        return admin_pb2.AdapterRemoveReply()


@dataclass
class Console:
    client: AdminClient
    fake: FakeAdmin
    lines: list[str] = field(default_factory=list)

    def __call__(self, *words: str) -> list[str]:
        self.lines.clear()
        session = Session(self.client.api, None, Output(self.lines.append, lambda raw: None))
        execute(self.client, session, list(words))
        return list(self.lines)


@pytest.fixture
def console() -> Iterator[Console]:
    fake = FakeAdmin()
    client = AdminClient(RegistryTarget(parse_endpoint("tcp -h 127.0.0.1 -p 1"), 1 << 20))

    async def serve() -> tuple[WireServer, RegistryTarget]:
        # The registry's client endpoints speak Shoal's wire protocol, as the CLI does.
        server = WireServer(max_message_bytes=1 << 20, name="the fake registry")
        server.add_service(admin_pb2.DESCRIPTOR.services_by_name["Admin"], fake)
        bound = await server.listen("tcp -h 127.0.0.1 -p 0")
        return server, RegistryTarget(bound[0], 1 << 20)

    server, target = client.run(serve())
    client.target, client.api = target, AdminApi(target)
    try:
        yield Console(client, fake)
    finally:
        client.run(server.stop(None))
        client.close()


def test_the_object_and_adapter_commands_of_icegridadmin_are_in_the_table() -> None:
    names = {c.name for c in COMMANDS}
    for name in ("adapter remove", "object add", "object remove", "object find"):
        assert name in names
    assert {"object describe", "object list"} <= names


@pytest.mark.parametrize(
    "words", [["object", "add"], ["object", "add", "a", "b", "c"], ["object", "find"]]
)
def test_wrong_argument_counts_are_usage_errors(words: list[str]) -> None:
    with pytest.raises(ConsoleUsageError):
        resolve(words)


def test_object_list_prints_identities_and_takes_a_trailing_star(console: Console) -> None:
    assert console("object", "list") == ["hello/greeter", "thing"]
    assert console("object", "list", "hello/*") == ["hello/greeter"]
    assert console("object", "list", "hello") == []


def test_object_find_prints_proxies_of_a_type(console: Console) -> None:
    assert console("object", "find", "::hello::Greeter") == ["hello/greeter@HelloServer.Hello"]


def test_object_describe_prints_proxy_and_type(console: Console) -> None:
    assert console("object", "describe", "t*") == [
        "proxy = `thing:tcp -h 127.0.0.1 -p 4000'",
        "type = `::T'",
    ]


def test_object_add_and_remove_send_what_was_typed(console: Console) -> None:
    assert console("object", "add", "x@Program.A", "::X") == []
    assert console("object", "add", "y@Program.A") == []
    assert console.fake.added == [("x@Program.A", "::X"), ("y@Program.A", "")]
    console("object", "remove", "x")
    console("adapter", "remove", "Program.A")
    assert console.fake.removed == ["x", "Program.A"]


def test_a_declared_object_cannot_be_removed(console: Console) -> None:
    with pytest.raises(InvalidArgumentError, match="application descriptor `Hello'"):
        console("object", "remove", "hello/greeter")
