"""TLS settings (IceSSL.*) and message size limits, shared by both transports.

gRPC (shoal.rpc.channels) takes them as credentials, Shoal's wire protocol (shoal.rpc.wire) as
ssl.SSLContext objects. Neither grpc nor ssl is imported until a TLS endpoint needs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shoal.config.endpoints import Endpoint, EndpointParseError, parse_endpoints, resolve_endpoint
from shoal.errors import ConfigError

if TYPE_CHECKING:
    import ssl

    import grpc

__all__ = [
    "GRPC_MAX_LENGTH",
    "TlsConfig",
    "as_endpoints",
    "check_transport",
    "message_size_max_bytes",
    "server_endpoints",
]

#: The largest message length gRPC accepts (and our wire protocol too).
GRPC_MAX_LENGTH = 2**31 - 1


def message_size_max_bytes(kb: int) -> int:
    """Ice.MessageSizeMax (KB) as gRPC's byte limit; 0 or less means no limit (-1 for gRPC)."""
    if kb <= 0:
        return -1
    return min(kb * 1024, GRPC_MAX_LENGTH)


@dataclass(frozen=True)
class TlsConfig:
    """TLS for `ssl` endpoints, from IceSSL-style settings. Files are PEM.

    Server side: `cert_file` and `key_file` are required; with `ca_file`, clients must present
    a certificate signed by it when `verify_peer` is 2 (IceSSL.VerifyPeer, Ice's default), and
    may when it is 1; 0 asks for none.
    Client side: `ca_file` is the roots the server's certificate must chain to (the system's
    when absent); `cert_file`/`key_file` are presented when given. gRPC always checks the
    server's name: `server_name` overrides the endpoint host for that check (for a certificate
    made for a name, reached by address). `verify_peer` 0 cannot switch the check off.
    """

    cert_file: Path | None = None
    key_file: Path | None = None
    ca_file: Path | None = None
    verify_peer: int = 2
    server_name: str | None = None

    @classmethod
    def from_properties(cls, properties: Mapping[str, str]) -> TlsConfig | None:
        """Read IceSSL.CertFile, .KeyFile, .CAs, .VerifyPeer, .DefaultDir; None if none is set."""

        def path(key: str) -> Path | None:
            value = properties.get(key, "").strip()
            if not value:
                return None
            if value.lower().endswith((".p12", ".pfx")):
                raise ConfigError(
                    f"PKCS#12 file `{value}' is not supported",
                    key=key,
                    hint="give PEM files: IceSSL.CertFile (certificate) and IceSSL.KeyFile (key)",
                )
            default_dir = properties.get("IceSSL.DefaultDir", "").strip()
            return Path(default_dir, value) if default_dir else Path(value)

        cert, key, ca = path("IceSSL.CertFile"), path("IceSSL.KeyFile"), path("IceSSL.CAs")
        if cert is None and key is None and ca is None:
            return None
        verify_text = properties.get("IceSSL.VerifyPeer", "2").strip() or "2"
        if verify_text not in ("0", "1", "2"):
            raise ConfigError(
                f"invalid value `{verify_text}'", key="IceSSL.VerifyPeer", hint="use 0, 1 or 2"
            )
        return cls(cert_file=cert, key_file=key, ca_file=ca, verify_peer=int(verify_text))

    def _read(self, path: Path | None, what: str) -> bytes | None:
        if path is None:
            return None
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the TLS {what} `{path}': {exc.strerror or exc}",
                hint="check IceSSL.CertFile, IceSSL.KeyFile, IceSSL.CAs and IceSSL.DefaultDir",
            ) from exc

    def server_credentials(self) -> grpc.ServerCredentials:
        import grpc

        cert = self._read(self.cert_file, "certificate")
        key = self._read(self.key_file, "key")
        if cert is None or key is None:
            raise ConfigError(
                "an ssl endpoint needs a certificate and a key",
                hint="set IceSSL.CertFile and IceSSL.KeyFile (PEM)",
            )
        roots = self._read(self.ca_file, "CA certificates") if self.verify_peer > 0 else None
        return grpc.ssl_server_credentials(
            [(key, cert)],
            root_certificates=roots,
            require_client_auth=roots is not None and self.verify_peer >= 2,
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        import grpc

        cert = self._read(self.cert_file, "certificate")
        key = self._read(self.key_file, "key")
        return grpc.ssl_channel_credentials(
            root_certificates=self._read(self.ca_file, "CA certificates"),
            private_key=key if cert is not None else None,
            certificate_chain=cert if key is not None else None,
        )

    def server_context(self) -> ssl.SSLContext:
        """The same rules as `server_credentials`, for Shoal's wire protocol."""
        import ssl

        if self.cert_file is None or self.key_file is None:
            raise ConfigError(
                "an ssl endpoint needs a certificate and a key",
                hint="set IceSSL.CertFile and IceSSL.KeyFile (PEM)",
            )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._load_identity(context)
        if self.verify_peer > 0 and self.ca_file is not None:
            self._load_roots(context)
            context.verify_mode = ssl.CERT_REQUIRED if self.verify_peer >= 2 else ssl.CERT_OPTIONAL
        return context

    def client_context(self) -> ssl.SSLContext:
        """The same rules as `channel_credentials`: the server's name is always checked."""
        import ssl

        if self.ca_file is None:
            context = ssl.create_default_context()  # the system's roots
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self._load_roots(context)
        if self.cert_file is not None and self.key_file is not None:
            self._load_identity(context)
        return context

    def _load_identity(self, context: ssl.SSLContext) -> None:
        import ssl

        assert self.cert_file is not None and self.key_file is not None
        try:
            context.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot use the TLS certificate `{self.cert_file}' with the key "
                f"`{self.key_file}': {getattr(exc, 'strerror', None) or exc}",
                hint="check IceSSL.CertFile, IceSSL.KeyFile and IceSSL.DefaultDir (PEM files)",
            ) from exc

    def _load_roots(self, context: ssl.SSLContext) -> None:
        import ssl

        roots = self._read(self.ca_file, "CA certificates")
        try:
            context.load_verify_locations(cadata=(roots or b"").decode("ascii", "replace"))
        except (ssl.SSLError, ValueError) as exc:
            raise ConfigError(
                f"cannot use the CA certificates `{self.ca_file}': {exc}",
                hint="IceSSL.CAs must be a PEM file of one or more certificates",
            ) from exc


def check_transport(endpoint: Endpoint, tls: TlsConfig | None) -> None:
    """Refuse an endpoint neither transport speaks, or an ssl one without TLS settings."""
    if endpoint.transport not in ("tcp", "ssl"):
        raise ConfigError(
            f"transport `{endpoint.transport}' is not supported by Shoal in `{endpoint}'",
            hint="use a tcp or ssl endpoint",
        )
    if endpoint.transport == "ssl" and tls is None:
        raise ConfigError(
            f"ssl endpoint `{endpoint}' needs TLS settings",
            hint="set IceSSL.CertFile, IceSSL.KeyFile and IceSSL.CAs",
        )


def as_endpoints(endpoints: str | Iterable[Endpoint]) -> tuple[Endpoint, ...]:
    """Endpoints given as Ice's string form or already parsed."""
    if isinstance(endpoints, str):
        try:
            return parse_endpoints(endpoints)
        except EndpointParseError as exc:
            raise ConfigError(str(exc)) from exc
    return tuple(endpoints)


def server_endpoints(endpoints: str | Iterable[Endpoint], tls: TlsConfig | None) -> list[Endpoint]:
    """The endpoints a server binds, resolved (no host: every interface; no port: any) and
    checked, all before anything is bound: all or nothing."""
    wanted = as_endpoints(endpoints)
    if not wanted:
        raise ConfigError("no endpoint to listen on", hint="set the endpoints property")
    resolved: list[Endpoint] = []
    for endpoint in wanted:
        try:
            resolved.append(resolve_endpoint(endpoint, for_server=True))
        except EndpointParseError as exc:
            raise ConfigError(str(exc)) from exc
        check_transport(resolved[-1], tls)
    return resolved
