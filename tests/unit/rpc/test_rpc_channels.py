"""Servers and channels from shoal.rpc.channels, over real sockets on 127.0.0.1."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from rpc_helpers import serve

from shoal.config.endpoints import Endpoint
from shoal.errors import ConfigError, MessageTooLargeError, UnreachableError
from shoal.rpc import admin_pb2, admin_pb2_grpc
from shoal.rpc.channels import (
    DEFAULT_MESSAGE_SIZE_MAX_KB,
    TlsConfig,
    describe_endpoints,
    make_channel,
    make_server,
    message_size_max_bytes,
)
from shoal.rpc.errors import MESSAGE_SIZE_HOPS, Peer, translate_errors

MB = 1024 * 1024


async def ping(endpoint: str | Endpoint, *, tls: TlsConfig | None = None) -> str:
    channel = make_channel(endpoint, max_message_bytes=MB, tls=tls)
    try:
        reply = await admin_pb2_grpc.AdminStub(channel).RegistryPing(
            admin_pb2.RegistryPingRequest(name="Master")
        )
        return str(reply.registry.name)
    finally:
        await channel.close()


@pytest.mark.asyncio
async def test_a_message_makes_the_round_trip_through_a_real_server() -> None:
    async with serve() as served:
        (endpoint,) = served.endpoints
        assert endpoint.port != 0
        channel = make_channel(endpoint, max_message_bytes=MB)
        stub = admin_pb2_grpc.AdminStub(channel)
        request = admin_pb2.DeployRequest(
            descriptor_xml="<icegrid/>",
            source_name="etc/grid/default.xml",
            variables={"PYTHON": "python3", "ROUTER": "4064"},
            mode=admin_pb2.DeployRequest.UPDATE,
        )
        reply = await stub.Deploy(request)
        await channel.close()
    assert reply.application == "etc/grid/default.xml"
    assert list(reply.added) == ["PYTHON", "ROUTER"]


@pytest.mark.asyncio
async def test_port_zero_binds_each_endpoint_and_returns_the_real_ports() -> None:
    async with serve("tcp -h 127.0.0.1 -p 0:tcp -h 127.0.0.1") as served:
        first, second = served.endpoints
        assert 0 not in (first.port, second.port)
        assert first.port != second.port
        assert describe_endpoints(served.endpoints) == (
            f"tcp -h 127.0.0.1 -p {first.port}:tcp -h 127.0.0.1 -p {second.port}"
        )
        # Endpoint strings work as well as parsed endpoints.
        assert await ping(str(first)) == "Master"
        assert await ping(second) == "Master"


@pytest.mark.asyncio
async def test_a_port_already_in_use_is_refused_with_the_endpoint_named() -> None:
    # gRPC would share the port (SO_REUSEPORT) unless told not to: a second registry must fail.
    async with serve() as served:
        (endpoint,) = served.endpoints
        with pytest.raises(
            ConfigError, match=f"cannot listen on `tcp -h 127.0.0.1 -p {endpoint.port}'"
        ) as caught:
            make_server([endpoint], max_message_bytes=MB)
        assert f"port {endpoint.port}" in caught.value.hint


@pytest.mark.parametrize(
    ("endpoints", "message"),
    [
        ("udp -h 127.0.0.1 -p 0", "transport `udp' is not supported"),
        ("ssl -h 127.0.0.1 -p 0", "needs TLS settings"),
        ("tcp -h 127.0.0.1 -p", "no argument provided for -p"),
        ("", "no endpoint to listen on"),
    ],
)
def test_bad_server_endpoints_are_config_errors(endpoints: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_server(endpoints, max_message_bytes=MB)


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("tcp -h 127.0.0.1", "no port in client endpoint"),
        ("tcp -h * -p 4061", "not valid for client endpoint"),
        ("ws -h 127.0.0.1 -p 4061", "transport `ws' is not supported"),
        ("tcp -x", "unrecognized argument `-x'"),
    ],
)
def test_bad_channel_endpoints_are_config_errors(endpoint: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_channel(endpoint, max_message_bytes=MB)


def test_message_size_max_is_in_kb_and_zero_means_no_limit() -> None:
    assert message_size_max_bytes(DEFAULT_MESSAGE_SIZE_MAX_KB) == 64 * MB
    assert message_size_max_bytes(1) == 1024
    assert message_size_max_bytes(0) == -1
    assert message_size_max_bytes(10**9) == 2**31 - 1


@pytest.mark.asyncio
async def test_an_oversized_request_gets_a_clear_error_and_the_server_keeps_serving() -> None:
    async with serve(max_message_bytes=message_size_max_bytes(64)) as served:
        (endpoint,) = served.endpoints
        peer = Peer.registry(str(endpoint))
        channel = make_channel(endpoint, max_message_bytes=MB)
        stub = admin_pb2_grpc.AdminStub(channel)
        with pytest.raises(MessageTooLargeError) as caught, translate_errors(peer):
            await stub.Deploy(admin_pb2.DeployRequest(descriptor_xml="x" * 100_000))
        error = caught.value
        assert str(error).startswith(f"the registry at {endpoint} refused a request of 100")
        assert "over the limit of 64 KB (Ice.MessageSizeMax)" in str(error)
        assert error.limit_kb == 64
        assert error.hops == MESSAGE_SIZE_HOPS
        assert "the client, router and server" in error.hint
        # Same channel, same server: the next call goes through.
        reply = await stub.RegistryPing(admin_pb2.RegistryPingRequest())
        assert reply.registry.name == "Master"
        await channel.close()
    assert served.servicer.calls == ["RegistryPing"]


@pytest.mark.asyncio
async def test_an_oversized_reply_is_refused_by_the_client_which_keeps_working() -> None:
    async with serve(max_message_bytes=MB) as served:
        served.servicer.reply_size = 20_000
        (endpoint,) = served.endpoints
        channel = make_channel(endpoint, max_message_bytes=message_size_max_bytes(16))
        stub = admin_pb2_grpc.AdminStub(channel)
        peer = Peer.registry(str(endpoint))
        refused = "this process refused a reply from the registry"
        with pytest.raises(MessageTooLargeError, match=refused) as caught, translate_errors(peer):
            await stub.Deploy(admin_pb2.DeployRequest())
        assert caught.value.limit_kb == 16
        served.servicer.reply_size = 10
        reply = await stub.Deploy(admin_pb2.DeployRequest())
        assert reply.application == "x" * 10
        await channel.close()


@pytest.mark.asyncio
async def test_a_request_over_the_clients_own_limit_is_not_sent() -> None:
    async with serve() as served:
        (endpoint,) = served.endpoints
        channel = make_channel(endpoint, max_message_bytes=message_size_max_bytes(8))
        stub = admin_pb2_grpc.AdminStub(channel)
        peer = Peer.registry(str(endpoint))
        with (
            pytest.raises(MessageTooLargeError, match="could not send a request"),
            translate_errors(peer),
        ):
            await stub.Deploy(admin_pb2.DeployRequest(descriptor_xml="z" * 9000))
        await channel.close()
    assert served.servicer.calls == []


@pytest.mark.asyncio
async def test_a_registry_that_is_not_running_is_named_with_its_address_and_a_hint() -> None:
    async with serve() as served:
        (endpoint,) = served.endpoints
    # The server is stopped: nothing listens on that port any more.
    channel = make_channel(endpoint, max_message_bytes=MB)
    with pytest.raises(UnreachableError) as caught, translate_errors(Peer.registry(str(endpoint))):
        await admin_pb2_grpc.AdminStub(channel).RegistryPing(admin_pb2.RegistryPingRequest())
    await channel.close()
    assert str(caught.value).startswith(f"cannot reach the registry at {endpoint}")
    assert caught.value.address == str(endpoint)
    assert "shoal admin start" in caught.value.hint


@pytest.mark.asyncio
async def test_tls_round_trip_with_client_certificates(tls_files: TlsConfig) -> None:
    async with serve("ssl -h 127.0.0.1 -p 0", tls=tls_files) as served:
        (endpoint,) = served.endpoints
        assert endpoint.transport == "ssl"
        assert await ping(endpoint, tls=tls_files) == "Master"


@pytest.mark.asyncio
async def test_tls_server_name_override_reaches_a_certificate_made_for_a_name(
    tls_files: TlsConfig,
) -> None:
    async with serve("ssl -h 127.0.0.1 -p 0", tls=tls_files) as served:
        (endpoint,) = served.endpoints
        client = replace(tls_files, server_name="localhost")
        assert await ping(endpoint, tls=client) == "Master"


@pytest.mark.asyncio
async def test_a_tls_server_refuses_a_client_without_a_certificate(tls_files: TlsConfig) -> None:
    async with serve("ssl -h 127.0.0.1 -p 0", tls=tls_files) as served:
        (endpoint,) = served.endpoints
        anonymous = TlsConfig(ca_file=tls_files.ca_file)
        with pytest.raises(UnreachableError), translate_errors(Peer.registry(str(endpoint))):
            await ping(endpoint, tls=anonymous)
        assert served.servicer.calls == []


@pytest.mark.asyncio
async def test_a_plaintext_client_cannot_talk_to_a_tls_server(tls_files: TlsConfig) -> None:
    async with serve("ssl -h 127.0.0.1 -p 0", tls=tls_files) as served:
        (endpoint,) = served.endpoints
        plain = replace(endpoint, transport="tcp")
        with pytest.raises(UnreachableError), translate_errors(Peer.registry(str(plain))):
            await ping(plain)
        assert served.servicer.calls == []


@pytest.mark.asyncio
async def test_verify_peer_1_accepts_a_client_without_a_certificate(tls_files: TlsConfig) -> None:
    optional = replace(tls_files, verify_peer=1)
    async with serve("ssl -h 127.0.0.1 -p 0", tls=optional) as served:
        (endpoint,) = served.endpoints
        assert await ping(endpoint, tls=TlsConfig(ca_file=tls_files.ca_file)) == "Master"


def test_tls_config_reads_icessl_properties(tmp_path: Path) -> None:
    config = TlsConfig.from_properties(
        {
            "IceSSL.DefaultDir": str(tmp_path),
            "IceSSL.CertFile": "server.pem",
            "IceSSL.KeyFile": "server.key",
            "IceSSL.CAs": "/etc/ca.pem",
            "IceSSL.VerifyPeer": "1",
        }
    )
    assert config == TlsConfig(
        cert_file=tmp_path / "server.pem",
        key_file=tmp_path / "server.key",
        ca_file=Path("/etc/ca.pem"),
        verify_peer=1,
    )
    assert TlsConfig.from_properties({"Ice.MessageSizeMax": "1024"}) is None


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"IceSSL.CertFile": "server.p12"}, "PKCS#12 file `server.p12' is not supported"),
        ({"IceSSL.CAs": "ca.pem", "IceSSL.VerifyPeer": "3"}, "IceSSL.VerifyPeer: invalid value"),
    ],
)
def test_tls_config_refuses_what_it_cannot_use(properties: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TlsConfig.from_properties(properties)


def test_an_ssl_server_without_a_readable_key_names_the_file(tmp_path: Path) -> None:
    missing = TlsConfig(cert_file=tmp_path / "cert.pem", key_file=tmp_path / "key.pem")
    with pytest.raises(ConfigError, match=r"cannot read the TLS certificate `.*cert\.pem'"):
        make_server("ssl -h 127.0.0.1 -p 0", max_message_bytes=MB, tls=missing)
    with pytest.raises(ConfigError, match="needs a certificate and a key"):
        make_server("ssl -h 127.0.0.1 -p 0", max_message_bytes=MB, tls=TlsConfig())
