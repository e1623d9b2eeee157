"""Who may call the Admin service: the one place the admin permissions verifier goes
(IceGrid.Registry.AdminPermissionsVerifier / AdminCryptPasswords). Today: everyone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import grpc.aio

from shoal.errors import ShoalError

__all__ = ["ADMIN_SERVICE_PREFIX", "AdminPermissions"]

#: gRPC method names of the Admin service start with this; Locator calls are not checked.
ADMIN_SERVICE_PREFIX = "/shoal.v1.Admin/"


class AdminPermissions(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Checks every Admin call before it runs. The null verifier (accept all) for now; the
    verifier issue makes `check` raise PermissionDeniedError, and the call then fails with it
    (sent by the ErrorInterceptor, which wraps the handler returned here)."""

    def check(self, method: str, metadata: tuple[Any, ...]) -> None:
        """Raise PermissionDeniedError to refuse the call; the null verifier accepts all."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not method.startswith(ADMIN_SERVICE_PREFIX):
            return handler
        try:
            self.check(method, tuple(handler_call_details.invocation_metadata or ()))
        except ShoalError as error:
            return _refusing(handler, error)
        return handler


def _refusing(handler: grpc.RpcMethodHandler, error: ShoalError) -> grpc.RpcMethodHandler:
    """A handler of the same shape that fails with `error` without running the RPC."""

    async def refuse_unary(request: Any, context: Any) -> Any:
        raise error

    async def refuse_stream(request: Any, context: Any) -> AsyncIterator[Any]:
        raise error
        yield  # pragma: no cover - makes this an async generator

    options = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(refuse_stream, **options)
    return grpc.unary_unary_rpc_method_handler(refuse_unary, **options)
