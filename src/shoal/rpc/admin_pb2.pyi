import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from shoal.rpc import common_pb2 as _common_pb2
from shoal.rpc import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChangedServer(_message.Message):
    __slots__ = ("server_id", "node", "changed_fields", "running", "live")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    LIVE_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    node: str
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    running: bool
    live: bool
    def __init__(self, server_id: _Optional[str] = ..., node: _Optional[str] = ..., changed_fields: _Optional[_Iterable[str]] = ..., running: _Optional[bool] = ..., live: _Optional[bool] = ...) -> None: ...

class DeployRequest(_message.Message):
    __slots__ = ("descriptor_xml", "source_name", "targets", "variables", "mode", "no_restart")
    class Mode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ADD_OR_UPDATE: _ClassVar[DeployRequest.Mode]
        ADD: _ClassVar[DeployRequest.Mode]
        UPDATE: _ClassVar[DeployRequest.Mode]
    ADD_OR_UPDATE: DeployRequest.Mode
    ADD: DeployRequest.Mode
    UPDATE: DeployRequest.Mode
    class VariablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DESCRIPTOR_XML_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    NO_RESTART_FIELD_NUMBER: _ClassVar[int]
    descriptor_xml: str
    source_name: str
    targets: _containers.RepeatedScalarFieldContainer[str]
    variables: _containers.ScalarMap[str, str]
    mode: DeployRequest.Mode
    no_restart: bool
    def __init__(self, descriptor_xml: _Optional[str] = ..., source_name: _Optional[str] = ..., targets: _Optional[_Iterable[str]] = ..., variables: _Optional[_Mapping[str, str]] = ..., mode: _Optional[_Union[DeployRequest.Mode, str]] = ..., no_restart: _Optional[bool] = ...) -> None: ...

class DeployReply(_message.Message):
    __slots__ = ("application", "revision", "added", "removed", "restarted", "unchanged", "created", "pending_nodes", "warnings")
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    ADDED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    RESTARTED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    PENDING_NODES_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    application: str
    revision: int
    added: _containers.RepeatedScalarFieldContainer[str]
    removed: _containers.RepeatedScalarFieldContainer[str]
    restarted: _containers.RepeatedCompositeFieldContainer[ChangedServer]
    unchanged: _containers.RepeatedScalarFieldContainer[str]
    created: bool
    pending_nodes: _containers.RepeatedScalarFieldContainer[str]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, application: _Optional[str] = ..., revision: _Optional[int] = ..., added: _Optional[_Iterable[str]] = ..., removed: _Optional[_Iterable[str]] = ..., restarted: _Optional[_Iterable[_Union[ChangedServer, _Mapping]]] = ..., unchanged: _Optional[_Iterable[str]] = ..., created: _Optional[bool] = ..., pending_nodes: _Optional[_Iterable[str]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class ApplicationSummary(_message.Message):
    __slots__ = ("name", "revision", "deployed_at", "source_name", "targets", "server_count", "nodes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    DEPLOYED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    SERVER_COUNT_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    name: str
    revision: int
    deployed_at: _timestamp_pb2.Timestamp
    source_name: str
    targets: _containers.RepeatedScalarFieldContainer[str]
    server_count: int
    nodes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., revision: _Optional[int] = ..., deployed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source_name: _Optional[str] = ..., targets: _Optional[_Iterable[str]] = ..., server_count: _Optional[int] = ..., nodes: _Optional[_Iterable[str]] = ...) -> None: ...

class ApplicationListRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ApplicationListReply(_message.Message):
    __slots__ = ("applications",)
    APPLICATIONS_FIELD_NUMBER: _ClassVar[int]
    applications: _containers.RepeatedCompositeFieldContainer[ApplicationSummary]
    def __init__(self, applications: _Optional[_Iterable[_Union[ApplicationSummary, _Mapping]]] = ...) -> None: ...

class ApplicationDescribeRequest(_message.Message):
    __slots__ = ("application",)
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    application: str
    def __init__(self, application: _Optional[str] = ...) -> None: ...

class ApplicationDescribeReply(_message.Message):
    __slots__ = ("summary", "descriptor_xml", "variables")
    class VariablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTOR_XML_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    summary: ApplicationSummary
    descriptor_xml: str
    variables: _containers.ScalarMap[str, str]
    def __init__(self, summary: _Optional[_Union[ApplicationSummary, _Mapping]] = ..., descriptor_xml: _Optional[str] = ..., variables: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ApplicationDiffRequest(_message.Message):
    __slots__ = ("descriptor_xml", "source_name", "targets", "variables")
    class VariablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DESCRIPTOR_XML_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    descriptor_xml: str
    source_name: str
    targets: _containers.RepeatedScalarFieldContainer[str]
    variables: _containers.ScalarMap[str, str]
    def __init__(self, descriptor_xml: _Optional[str] = ..., source_name: _Optional[str] = ..., targets: _Optional[_Iterable[str]] = ..., variables: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ApplicationDiffReply(_message.Message):
    __slots__ = ("application", "exists", "added", "removed", "changed", "unchanged")
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    ADDED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    application: str
    exists: bool
    added: _containers.RepeatedScalarFieldContainer[str]
    removed: _containers.RepeatedScalarFieldContainer[str]
    changed: _containers.RepeatedCompositeFieldContainer[ChangedServer]
    unchanged: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, application: _Optional[str] = ..., exists: _Optional[bool] = ..., added: _Optional[_Iterable[str]] = ..., removed: _Optional[_Iterable[str]] = ..., changed: _Optional[_Iterable[_Union[ChangedServer, _Mapping]]] = ..., unchanged: _Optional[_Iterable[str]] = ...) -> None: ...

class ApplicationRemoveRequest(_message.Message):
    __slots__ = ("application",)
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    application: str
    def __init__(self, application: _Optional[str] = ...) -> None: ...

class ApplicationRemoveReply(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, removed: _Optional[_Iterable[str]] = ...) -> None: ...

class ServerListRequest(_message.Message):
    __slots__ = ("application", "node")
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    application: str
    node: str
    def __init__(self, application: _Optional[str] = ..., node: _Optional[str] = ...) -> None: ...

class ServerListReply(_message.Message):
    __slots__ = ("servers",)
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    servers: _containers.RepeatedCompositeFieldContainer[_common_pb2.ServerStatus]
    def __init__(self, servers: _Optional[_Iterable[_Union[_common_pb2.ServerStatus, _Mapping]]] = ...) -> None: ...

class ServerDescribeRequest(_message.Message):
    __slots__ = ("server_id",)
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    def __init__(self, server_id: _Optional[str] = ...) -> None: ...

class ServerDescribeReply(_message.Message):
    __slots__ = ("description", "status")
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    description: _descriptor_pb2.ServerDescription
    status: _common_pb2.ServerStatus
    def __init__(self, description: _Optional[_Union[_descriptor_pb2.ServerDescription, _Mapping]] = ..., status: _Optional[_Union[_common_pb2.ServerStatus, _Mapping]] = ...) -> None: ...

class ServerStateRequest(_message.Message):
    __slots__ = ("server_id",)
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    def __init__(self, server_id: _Optional[str] = ...) -> None: ...

class ServerStateReply(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.ServerStatus
    def __init__(self, status: _Optional[_Union[_common_pb2.ServerStatus, _Mapping]] = ...) -> None: ...

class ServerStartRequest(_message.Message):
    __slots__ = ("server_id",)
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    def __init__(self, server_id: _Optional[str] = ...) -> None: ...

class ServerStartReply(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.ServerStatus
    def __init__(self, status: _Optional[_Union[_common_pb2.ServerStatus, _Mapping]] = ...) -> None: ...

class ServerStopRequest(_message.Message):
    __slots__ = ("server_id",)
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    def __init__(self, server_id: _Optional[str] = ...) -> None: ...

class ServerStopReply(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.ServerStatus
    def __init__(self, status: _Optional[_Union[_common_pb2.ServerStatus, _Mapping]] = ...) -> None: ...

class ServerEnableRequest(_message.Message):
    __slots__ = ("server_id",)
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    def __init__(self, server_id: _Optional[str] = ...) -> None: ...

class ServerEnableReply(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.ServerStatus
    def __init__(self, status: _Optional[_Union[_common_pb2.ServerStatus, _Mapping]] = ...) -> None: ...

class ServerDisableRequest(_message.Message):
    __slots__ = ("server_id",)
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    def __init__(self, server_id: _Optional[str] = ...) -> None: ...

class ServerDisableReply(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.ServerStatus
    def __init__(self, status: _Optional[_Union[_common_pb2.ServerStatus, _Mapping]] = ...) -> None: ...

class ServerSignalRequest(_message.Message):
    __slots__ = ("server_id", "signal")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    signal: str
    def __init__(self, server_id: _Optional[str] = ..., signal: _Optional[str] = ...) -> None: ...

class ServerSignalReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServerPropertiesRequest(_message.Message):
    __slots__ = ("server_id", "service")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    service: str
    def __init__(self, server_id: _Optional[str] = ..., service: _Optional[str] = ...) -> None: ...

class ServerPropertiesReply(_message.Message):
    __slots__ = ("properties",)
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    properties: _containers.RepeatedCompositeFieldContainer[_common_pb2.Property]
    def __init__(self, properties: _Optional[_Iterable[_Union[_common_pb2.Property, _Mapping]]] = ...) -> None: ...

class ServerOutputRequest(_message.Message):
    __slots__ = ("server_id", "stream", "tail_lines", "follow")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    TAIL_LINES_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    stream: _common_pb2.OutputStream
    tail_lines: int
    follow: bool
    def __init__(self, server_id: _Optional[str] = ..., stream: _Optional[_Union[_common_pb2.OutputStream, str]] = ..., tail_lines: _Optional[int] = ..., follow: _Optional[bool] = ...) -> None: ...

class ServerOutputReply(_message.Message):
    __slots__ = ("chunk",)
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    chunk: _common_pb2.OutputChunk
    def __init__(self, chunk: _Optional[_Union[_common_pb2.OutputChunk, _Mapping]] = ...) -> None: ...

class WatchServersRequest(_message.Message):
    __slots__ = ("server_ids", "application", "node")
    SERVER_IDS_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    server_ids: _containers.RepeatedScalarFieldContainer[str]
    application: str
    node: str
    def __init__(self, server_ids: _Optional[_Iterable[str]] = ..., application: _Optional[str] = ..., node: _Optional[str] = ...) -> None: ...

class ServerSnapshot(_message.Message):
    __slots__ = ("servers",)
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    servers: _containers.RepeatedCompositeFieldContainer[_common_pb2.ServerStatus]
    def __init__(self, servers: _Optional[_Iterable[_Union[_common_pb2.ServerStatus, _Mapping]]] = ...) -> None: ...

class WatchServersReply(_message.Message):
    __slots__ = ("snapshot", "changed", "removed", "node")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    snapshot: ServerSnapshot
    changed: _common_pb2.ServerStatus
    removed: str
    node: _common_pb2.NodeStatus
    def __init__(self, snapshot: _Optional[_Union[ServerSnapshot, _Mapping]] = ..., changed: _Optional[_Union[_common_pb2.ServerStatus, _Mapping]] = ..., removed: _Optional[str] = ..., node: _Optional[_Union[_common_pb2.NodeStatus, _Mapping]] = ...) -> None: ...

class NodeListRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NodeListReply(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[_common_pb2.NodeStatus]
    def __init__(self, nodes: _Optional[_Iterable[_Union[_common_pb2.NodeStatus, _Mapping]]] = ...) -> None: ...

class NodeDescribeRequest(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: str
    def __init__(self, node: _Optional[str] = ...) -> None: ...

class NodeDescribeReply(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.NodeStatus
    def __init__(self, status: _Optional[_Union[_common_pb2.NodeStatus, _Mapping]] = ...) -> None: ...

class NodePingRequest(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: str
    def __init__(self, node: _Optional[str] = ...) -> None: ...

class NodePingReply(_message.Message):
    __slots__ = ("round_trip_seconds",)
    ROUND_TRIP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    round_trip_seconds: float
    def __init__(self, round_trip_seconds: _Optional[float] = ...) -> None: ...

class NodeLoadRequest(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: str
    def __init__(self, node: _Optional[str] = ...) -> None: ...

class NodeLoadReply(_message.Message):
    __slots__ = ("load",)
    LOAD_FIELD_NUMBER: _ClassVar[int]
    load: _common_pb2.LoadInfo
    def __init__(self, load: _Optional[_Union[_common_pb2.LoadInfo, _Mapping]] = ...) -> None: ...

class NodeShutdownRequest(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: str
    def __init__(self, node: _Optional[str] = ...) -> None: ...

class NodeShutdownReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RegistryInfo(_message.Message):
    __slots__ = ("name", "hostname", "client_endpoints", "internal_endpoints", "version", "pid", "started_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    INTERNAL_ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    hostname: str
    client_endpoints: str
    internal_endpoints: str
    version: str
    pid: int
    started_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., hostname: _Optional[str] = ..., client_endpoints: _Optional[str] = ..., internal_endpoints: _Optional[str] = ..., version: _Optional[str] = ..., pid: _Optional[int] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegistryListRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RegistryListReply(_message.Message):
    __slots__ = ("registries",)
    REGISTRIES_FIELD_NUMBER: _ClassVar[int]
    registries: _containers.RepeatedCompositeFieldContainer[RegistryInfo]
    def __init__(self, registries: _Optional[_Iterable[_Union[RegistryInfo, _Mapping]]] = ...) -> None: ...

class RegistryPingRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RegistryPingReply(_message.Message):
    __slots__ = ("registry",)
    REGISTRY_FIELD_NUMBER: _ClassVar[int]
    registry: RegistryInfo
    def __init__(self, registry: _Optional[_Union[RegistryInfo, _Mapping]] = ...) -> None: ...

class RegistryShutdownRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RegistryShutdownReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AdapterInfo(_message.Message):
    __slots__ = ("adapter_id", "server_id", "node", "replica_group", "endpoints")
    ADAPTER_ID_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    REPLICA_GROUP_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    adapter_id: str
    server_id: str
    node: str
    replica_group: str
    endpoints: str
    def __init__(self, adapter_id: _Optional[str] = ..., server_id: _Optional[str] = ..., node: _Optional[str] = ..., replica_group: _Optional[str] = ..., endpoints: _Optional[str] = ...) -> None: ...

class AdapterListRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AdapterListReply(_message.Message):
    __slots__ = ("adapters",)
    ADAPTERS_FIELD_NUMBER: _ClassVar[int]
    adapters: _containers.RepeatedCompositeFieldContainer[AdapterInfo]
    def __init__(self, adapters: _Optional[_Iterable[_Union[AdapterInfo, _Mapping]]] = ...) -> None: ...

class AdapterEndpointsRequest(_message.Message):
    __slots__ = ("adapter_id",)
    ADAPTER_ID_FIELD_NUMBER: _ClassVar[int]
    adapter_id: str
    def __init__(self, adapter_id: _Optional[str] = ...) -> None: ...

class AdapterEndpointsReply(_message.Message):
    __slots__ = ("adapter",)
    ADAPTER_FIELD_NUMBER: _ClassVar[int]
    adapter: AdapterInfo
    def __init__(self, adapter: _Optional[_Union[AdapterInfo, _Mapping]] = ...) -> None: ...

class AdapterRemoveRequest(_message.Message):
    __slots__ = ("adapter_id",)
    ADAPTER_ID_FIELD_NUMBER: _ClassVar[int]
    adapter_id: str
    def __init__(self, adapter_id: _Optional[str] = ...) -> None: ...

class AdapterRemoveReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ObjectInfo(_message.Message):
    __slots__ = ("identity", "proxy", "type", "adapter_id", "application")
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    PROXY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    identity: str
    proxy: str
    type: str
    adapter_id: str
    application: str
    def __init__(self, identity: _Optional[str] = ..., proxy: _Optional[str] = ..., type: _Optional[str] = ..., adapter_id: _Optional[str] = ..., application: _Optional[str] = ...) -> None: ...

class ObjectAddRequest(_message.Message):
    __slots__ = ("proxy", "type")
    PROXY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    proxy: str
    type: str
    def __init__(self, proxy: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class ObjectAddReply(_message.Message):
    __slots__ = ("object",)
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    object: ObjectInfo
    def __init__(self, object: _Optional[_Union[ObjectInfo, _Mapping]] = ...) -> None: ...

class ObjectRemoveRequest(_message.Message):
    __slots__ = ("identity",)
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    identity: str
    def __init__(self, identity: _Optional[str] = ...) -> None: ...

class ObjectRemoveReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ObjectListRequest(_message.Message):
    __slots__ = ("expression", "type")
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    expression: str
    type: str
    def __init__(self, expression: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class ObjectListReply(_message.Message):
    __slots__ = ("objects",)
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[ObjectInfo]
    def __init__(self, objects: _Optional[_Iterable[_Union[ObjectInfo, _Mapping]]] = ...) -> None: ...

class DiagnosticsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DiagnosticsReply(_message.Message):
    __slots__ = ("registry", "applications", "nodes", "servers", "warnings", "database_path", "adapters", "objects")
    REGISTRY_FIELD_NUMBER: _ClassVar[int]
    APPLICATIONS_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    DATABASE_PATH_FIELD_NUMBER: _ClassVar[int]
    ADAPTERS_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    registry: RegistryInfo
    applications: _containers.RepeatedCompositeFieldContainer[ApplicationSummary]
    nodes: _containers.RepeatedCompositeFieldContainer[_common_pb2.NodeStatus]
    servers: _containers.RepeatedCompositeFieldContainer[_common_pb2.ServerStatus]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    database_path: str
    adapters: _containers.RepeatedCompositeFieldContainer[AdapterInfo]
    objects: _containers.RepeatedCompositeFieldContainer[ObjectInfo]
    def __init__(self, registry: _Optional[_Union[RegistryInfo, _Mapping]] = ..., applications: _Optional[_Iterable[_Union[ApplicationSummary, _Mapping]]] = ..., nodes: _Optional[_Iterable[_Union[_common_pb2.NodeStatus, _Mapping]]] = ..., servers: _Optional[_Iterable[_Union[_common_pb2.ServerStatus, _Mapping]]] = ..., warnings: _Optional[_Iterable[str]] = ..., database_path: _Optional[str] = ..., adapters: _Optional[_Iterable[_Union[AdapterInfo, _Mapping]]] = ..., objects: _Optional[_Iterable[_Union[ObjectInfo, _Mapping]]] = ...) -> None: ...

class ShutdownGridRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ShutdownGridReply(_message.Message):
    __slots__ = ("nodes_stopped", "nodes_unreachable", "servers_stopped", "registry_pid")
    NODES_STOPPED_FIELD_NUMBER: _ClassVar[int]
    NODES_UNREACHABLE_FIELD_NUMBER: _ClassVar[int]
    SERVERS_STOPPED_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_PID_FIELD_NUMBER: _ClassVar[int]
    nodes_stopped: _containers.RepeatedScalarFieldContainer[str]
    nodes_unreachable: _containers.RepeatedScalarFieldContainer[str]
    servers_stopped: int
    registry_pid: int
    def __init__(self, nodes_stopped: _Optional[_Iterable[str]] = ..., nodes_unreachable: _Optional[_Iterable[str]] = ..., servers_stopped: _Optional[int] = ..., registry_pid: _Optional[int] = ...) -> None: ...
