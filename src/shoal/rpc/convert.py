"""Expanded server descriptions to and from their protobuf mirror (descriptor.proto).

The registry sends `ServerDescription`s to nodes; both ends convert here and nowhere else, and
a round-trip test keeps this module in step with the model.
"""

from __future__ import annotations

from shoal.descriptor.model import (
    Activation,
    Adapter,
    DbEnvDescriptor,
    DistributionDescriptor,
    LogDescriptor,
    ObjectDescriptor,
    Property,
    ServerDescription,
    Service,
)
from shoal.rpc import common_pb2, descriptor_pb2

_ACTIVATION_TO_PB = {
    Activation.MANUAL: descriptor_pb2.MANUAL,
    Activation.ON_DEMAND: descriptor_pb2.ON_DEMAND,
    Activation.ALWAYS: descriptor_pb2.ALWAYS,
    Activation.SESSION: descriptor_pb2.SESSION,
}
_ACTIVATION_FROM_PB = {value: key for key, value in _ACTIVATION_TO_PB.items()}


def _pairs_to_pb(pairs: tuple[tuple[str, str], ...]) -> list[common_pb2.Property]:
    return [common_pb2.Property(name=name, value=value) for name, value in pairs]


def _pairs_from_pb(pairs: object) -> tuple[tuple[str, str], ...]:
    return tuple((p.name, p.value) for p in pairs)  # type: ignore[attr-defined]


def _object_to_pb(obj: ObjectDescriptor) -> descriptor_pb2.ObjectDescription:
    return descriptor_pb2.ObjectDescription(
        identity=obj.identity, type=obj.type, proxy_options=obj.proxy_options, property=obj.property
    )


def _object_from_pb(obj: descriptor_pb2.ObjectDescription) -> ObjectDescriptor:
    return ObjectDescriptor(obj.identity, obj.type, obj.proxy_options, obj.property)


def _adapter_to_pb(adapter: Adapter) -> descriptor_pb2.AdapterDescription:
    return descriptor_pb2.AdapterDescription(
        name=adapter.name,
        id=adapter.id,
        endpoints=adapter.endpoints,
        replica_group=adapter.replica_group,
        priority=adapter.priority,
        proxy_options=adapter.proxy_options,
        register_process=adapter.register_process,
        server_lifetime=adapter.server_lifetime,
        description=adapter.description,
        objects=[_object_to_pb(o) for o in adapter.objects],
        allocatables=[_object_to_pb(o) for o in adapter.allocatables],
    )


def _adapter_from_pb(adapter: descriptor_pb2.AdapterDescription) -> Adapter:
    return Adapter(
        name=adapter.name,
        id=adapter.id,
        endpoints=adapter.endpoints,
        replica_group=adapter.replica_group,
        priority=adapter.priority,
        proxy_options=adapter.proxy_options,
        register_process=adapter.register_process,
        server_lifetime=adapter.server_lifetime,
        description=adapter.description,
        objects=tuple(_object_from_pb(o) for o in adapter.objects),
        allocatables=tuple(_object_from_pb(o) for o in adapter.allocatables),
    )


def _dbenv_to_pb(dbenv: DbEnvDescriptor) -> descriptor_pb2.DbEnvDescription:
    return descriptor_pb2.DbEnvDescription(
        name=dbenv.name,
        home=dbenv.home,
        description=dbenv.description,
        properties=[common_pb2.Property(name=p.name, value=p.value) for p in dbenv.properties],
    )


def _dbenv_from_pb(dbenv: descriptor_pb2.DbEnvDescription) -> DbEnvDescriptor:
    return DbEnvDescriptor(
        name=dbenv.name,
        home=dbenv.home,
        description=dbenv.description,
        properties=tuple(Property(p.name, p.value) for p in dbenv.properties),
    )


def _log_to_pb(log: LogDescriptor) -> descriptor_pb2.LogDescription:
    return descriptor_pb2.LogDescription(path=log.path, property=log.property)


def _log_from_pb(log: descriptor_pb2.LogDescription) -> LogDescriptor:
    return LogDescriptor(log.path, log.property)


def _service_to_pb(service: Service) -> descriptor_pb2.ServiceDescription:
    return descriptor_pb2.ServiceDescription(
        name=service.name,
        entry=service.entry,
        description=service.description,
        properties=_pairs_to_pb(service.properties),
        adapters=[_adapter_to_pb(a) for a in service.adapters],
        dbenvs=[_dbenv_to_pb(d) for d in service.dbenvs],
        logs=[_log_to_pb(log) for log in service.logs],
    )


def _service_from_pb(service: descriptor_pb2.ServiceDescription) -> Service:
    return Service(
        name=service.name,
        entry=service.entry,
        description=service.description,
        properties=_pairs_from_pb(service.properties),
        adapters=tuple(_adapter_from_pb(a) for a in service.adapters),
        dbenvs=tuple(_dbenv_from_pb(d) for d in service.dbenvs),
        logs=tuple(_log_from_pb(log) for log in service.logs),
    )


def server_to_pb(server: ServerDescription) -> descriptor_pb2.ServerDescription:
    """The protobuf form of an expanded server, for LoadServers."""
    message = descriptor_pb2.ServerDescription(
        id=server.id,
        node=server.node,
        application=server.application,
        exe=server.exe,
        activation=_ACTIVATION_TO_PB[server.activation],
        activation_timeout_seconds=server.activation_timeout,
        deactivation_timeout_seconds=server.deactivation_timeout,
        pwd=server.pwd,
        user=server.user,
        ice_version=server.ice_version,
        application_distrib=server.application_distrib,
        allocatable=server.allocatable,
        description=server.description,
        options=list(server.options),
        envs=list(server.envs),
        properties=_pairs_to_pb(server.properties),
        adapters=[_adapter_to_pb(a) for a in server.adapters],
        dbenvs=[_dbenv_to_pb(d) for d in server.dbenvs],
        logs=[_log_to_pb(log) for log in server.logs],
        icebox=server.services is not None,
        services=[_service_to_pb(s) for s in server.services or ()],
    )
    if server.distrib is not None:
        message.distrib.CopyFrom(
            descriptor_pb2.DistributionDescription(
                icepatch=server.distrib.icepatch, directories=list(server.distrib.directories)
            )
        )
    return message


def server_from_pb(message: descriptor_pb2.ServerDescription) -> ServerDescription:
    """The model form of a server received from the registry."""
    distrib = None
    if message.HasField("distrib"):
        distrib = DistributionDescriptor(
            icepatch=message.distrib.icepatch, directories=tuple(message.distrib.directories)
        )
    return ServerDescription(
        id=message.id,
        node=message.node,
        application=message.application,
        exe=message.exe,
        activation=_ACTIVATION_FROM_PB[message.activation],
        activation_timeout=message.activation_timeout_seconds,
        deactivation_timeout=message.deactivation_timeout_seconds,
        pwd=message.pwd,
        user=message.user,
        ice_version=message.ice_version,
        application_distrib=message.application_distrib,
        allocatable=message.allocatable,
        description=message.description,
        options=tuple(message.options),
        envs=tuple(message.envs),
        properties=_pairs_from_pb(message.properties),
        adapters=tuple(_adapter_from_pb(a) for a in message.adapters),
        dbenvs=tuple(_dbenv_from_pb(d) for d in message.dbenvs),
        logs=tuple(_log_from_pb(log) for log in message.logs),
        distrib=distrib,
        services=tuple(_service_from_pb(s) for s in message.services) if message.icebox else None,
    )
