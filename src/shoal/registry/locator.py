"""The Locator service (locator.proto) on the registry's client endpoints: where nodes find the
registry's internal endpoints before they open a session."""

from __future__ import annotations

import os
from typing import Any

import grpc.aio

from shoal.registry.settings import REPLICA_NAME
from shoal.rpc import locator_pb2, locator_pb2_grpc

__all__ = ["LocatorServicer"]


class LocatorServicer(locator_pb2_grpc.LocatorServicer):
    """Answers FindRegistry with the internal endpoints as bound (real ports)."""

    def __init__(self, *, instance_name: str, internal_endpoints: str) -> None:
        self.instance_name = instance_name
        self.internal_endpoints = internal_endpoints

    async def FindRegistry(
        self,
        request: locator_pb2.FindRegistryRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> locator_pb2.FindRegistryReply:
        return locator_pb2.FindRegistryReply(
            instance_name=self.instance_name,
            replica_name=REPLICA_NAME,
            internal_endpoints=self.internal_endpoints,
            pid=os.getpid(),
        )
