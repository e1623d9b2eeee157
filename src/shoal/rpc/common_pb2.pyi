import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ServerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INACTIVE: _ClassVar[ServerState]
    ACTIVATING: _ClassVar[ServerState]
    ACTIVATION_TIMED_OUT: _ClassVar[ServerState]
    ACTIVE: _ClassVar[ServerState]
    DEACTIVATING: _ClassVar[ServerState]
    DESTROYING: _ClassVar[ServerState]
    DESTROYED: _ClassVar[ServerState]

class OutputStream(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STDOUT: _ClassVar[OutputStream]
    STDERR: _ClassVar[OutputStream]
INACTIVE: ServerState
ACTIVATING: ServerState
ACTIVATION_TIMED_OUT: ServerState
ACTIVE: ServerState
DEACTIVATING: ServerState
DESTROYING: ServerState
DESTROYED: ServerState
STDOUT: OutputStream
STDERR: OutputStream

class ExitInfo(_message.Message):
    __slots__ = ("code", "signal", "description", "at", "failure")
    CODE_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    code: int
    signal: str
    description: str
    at: _timestamp_pb2.Timestamp
    failure: bool
    def __init__(self, code: _Optional[int] = ..., signal: _Optional[str] = ..., description: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failure: _Optional[bool] = ...) -> None: ...

class StateChange(_message.Message):
    __slots__ = ("at", "state", "reason")
    AT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    state: ServerState
    reason: str
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[ServerState, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class ServerStatus(_message.Message):
    __slots__ = ("server_id", "node", "application", "state", "pid", "enabled", "disabled_by", "reenable_at", "started_at", "restart_count", "last_exit", "history", "activation", "revision", "adapters")
    class DisabledBy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        NONE: _ClassVar[ServerStatus.DisabledBy]
        USER: _ClassVar[ServerStatus.DisabledBy]
        FAILURE: _ClassVar[ServerStatus.DisabledBy]
    NONE: ServerStatus.DisabledBy
    USER: ServerStatus.DisabledBy
    FAILURE: ServerStatus.DisabledBy
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    DISABLED_BY_FIELD_NUMBER: _ClassVar[int]
    REENABLE_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    RESTART_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_EXIT_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    ADAPTERS_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    node: str
    application: str
    state: ServerState
    pid: int
    enabled: bool
    disabled_by: ServerStatus.DisabledBy
    reenable_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    restart_count: int
    last_exit: ExitInfo
    history: _containers.RepeatedCompositeFieldContainer[StateChange]
    activation: str
    revision: int
    adapters: _containers.RepeatedCompositeFieldContainer[AdapterStatus]
    def __init__(self, server_id: _Optional[str] = ..., node: _Optional[str] = ..., application: _Optional[str] = ..., state: _Optional[_Union[ServerState, str]] = ..., pid: _Optional[int] = ..., enabled: _Optional[bool] = ..., disabled_by: _Optional[_Union[ServerStatus.DisabledBy, str]] = ..., reenable_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., restart_count: _Optional[int] = ..., last_exit: _Optional[_Union[ExitInfo, _Mapping]] = ..., history: _Optional[_Iterable[_Union[StateChange, _Mapping]]] = ..., activation: _Optional[str] = ..., revision: _Optional[int] = ..., adapters: _Optional[_Iterable[_Union[AdapterStatus, _Mapping]]] = ...) -> None: ...

class AdapterStatus(_message.Message):
    __slots__ = ("adapter_id", "endpoints", "replica_group")
    ADAPTER_ID_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    REPLICA_GROUP_FIELD_NUMBER: _ClassVar[int]
    adapter_id: str
    endpoints: str
    replica_group: str
    def __init__(self, adapter_id: _Optional[str] = ..., endpoints: _Optional[str] = ..., replica_group: _Optional[str] = ...) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ("name", "hostname", "os", "release", "machine", "cpus", "data_dir", "endpoints", "version", "pid", "started_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    MACHINE_FIELD_NUMBER: _ClassVar[int]
    CPUS_FIELD_NUMBER: _ClassVar[int]
    DATA_DIR_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    hostname: str
    os: str
    release: str
    machine: str
    cpus: int
    data_dir: str
    endpoints: str
    version: str
    pid: int
    started_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., hostname: _Optional[str] = ..., os: _Optional[str] = ..., release: _Optional[str] = ..., machine: _Optional[str] = ..., cpus: _Optional[int] = ..., data_dir: _Optional[str] = ..., endpoints: _Optional[str] = ..., version: _Optional[str] = ..., pid: _Optional[int] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LoadInfo(_message.Message):
    __slots__ = ("avg1", "avg5", "avg15")
    AVG1_FIELD_NUMBER: _ClassVar[int]
    AVG5_FIELD_NUMBER: _ClassVar[int]
    AVG15_FIELD_NUMBER: _ClassVar[int]
    avg1: float
    avg5: float
    avg15: float
    def __init__(self, avg1: _Optional[float] = ..., avg5: _Optional[float] = ..., avg15: _Optional[float] = ...) -> None: ...

class NodeStatus(_message.Message):
    __slots__ = ("info", "up", "last_seen", "load", "server_count", "session_started_at")
    INFO_FIELD_NUMBER: _ClassVar[int]
    UP_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    SERVER_COUNT_FIELD_NUMBER: _ClassVar[int]
    SESSION_STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    info: NodeInfo
    up: bool
    last_seen: _timestamp_pb2.Timestamp
    load: LoadInfo
    server_count: int
    session_started_at: _timestamp_pb2.Timestamp
    def __init__(self, info: _Optional[_Union[NodeInfo, _Mapping]] = ..., up: _Optional[bool] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., load: _Optional[_Union[LoadInfo, _Mapping]] = ..., server_count: _Optional[int] = ..., session_started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Property(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class OutputChunk(_message.Message):
    __slots__ = ("data", "rotated")
    DATA_FIELD_NUMBER: _ClassVar[int]
    ROTATED_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    rotated: bool
    def __init__(self, data: _Optional[bytes] = ..., rotated: _Optional[bool] = ...) -> None: ...

class Problem(_message.Message):
    __slots__ = ("file", "line", "message")
    FILE_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    file: str
    line: int
    message: str
    def __init__(self, file: _Optional[str] = ..., line: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class ErrorDetail(_message.Message):
    __slots__ = ("code", "message", "hint", "problems", "server_id", "node", "application", "holder_host", "address", "limit_kb", "hops", "signal", "holder", "adapter_id", "identity")
    class Code(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNSPECIFIED: _ClassVar[ErrorDetail.Code]
        NOT_FOUND_SERVER: _ClassVar[ErrorDetail.Code]
        NOT_FOUND_NODE: _ClassVar[ErrorDetail.Code]
        NOT_FOUND_APPLICATION: _ClassVar[ErrorDetail.Code]
        NODE_ACTIVE: _ClassVar[ErrorDetail.Code]
        NODE_UNREACHABLE: _ClassVar[ErrorDetail.Code]
        DEPLOYMENT_INVALID: _ClassVar[ErrorDetail.Code]
        SERVER_DISABLED: _ClassVar[ErrorDetail.Code]
        BAD_SIGNAL: _ClassVar[ErrorDetail.Code]
        PERMISSION_DENIED: _ClassVar[ErrorDetail.Code]
        MESSAGE_TOO_LARGE: _ClassVar[ErrorDetail.Code]
        ALREADY_EXISTS: _ClassVar[ErrorDetail.Code]
        BUSY: _ClassVar[ErrorDetail.Code]
        INTERNAL: _ClassVar[ErrorDetail.Code]
        INVALID_ARGUMENT: _ClassVar[ErrorDetail.Code]
        TIMED_OUT: _ClassVar[ErrorDetail.Code]
        SESSION_EXPIRED: _ClassVar[ErrorDetail.Code]
        NOT_FOUND_ADAPTER: _ClassVar[ErrorDetail.Code]
        NOT_FOUND_OBJECT: _ClassVar[ErrorDetail.Code]
    UNSPECIFIED: ErrorDetail.Code
    NOT_FOUND_SERVER: ErrorDetail.Code
    NOT_FOUND_NODE: ErrorDetail.Code
    NOT_FOUND_APPLICATION: ErrorDetail.Code
    NODE_ACTIVE: ErrorDetail.Code
    NODE_UNREACHABLE: ErrorDetail.Code
    DEPLOYMENT_INVALID: ErrorDetail.Code
    SERVER_DISABLED: ErrorDetail.Code
    BAD_SIGNAL: ErrorDetail.Code
    PERMISSION_DENIED: ErrorDetail.Code
    MESSAGE_TOO_LARGE: ErrorDetail.Code
    ALREADY_EXISTS: ErrorDetail.Code
    BUSY: ErrorDetail.Code
    INTERNAL: ErrorDetail.Code
    INVALID_ARGUMENT: ErrorDetail.Code
    TIMED_OUT: ErrorDetail.Code
    SESSION_EXPIRED: ErrorDetail.Code
    NOT_FOUND_ADAPTER: ErrorDetail.Code
    NOT_FOUND_OBJECT: ErrorDetail.Code
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    HOLDER_HOST_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_KB_FIELD_NUMBER: _ClassVar[int]
    HOPS_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    code: ErrorDetail.Code
    message: str
    hint: str
    problems: _containers.RepeatedCompositeFieldContainer[Problem]
    server_id: str
    node: str
    application: str
    holder_host: str
    address: str
    limit_kb: int
    hops: _containers.RepeatedScalarFieldContainer[str]
    signal: str
    holder: str
    adapter_id: str
    identity: str
    def __init__(self, code: _Optional[_Union[ErrorDetail.Code, str]] = ..., message: _Optional[str] = ..., hint: _Optional[str] = ..., problems: _Optional[_Iterable[_Union[Problem, _Mapping]]] = ..., server_id: _Optional[str] = ..., node: _Optional[str] = ..., application: _Optional[str] = ..., holder_host: _Optional[str] = ..., address: _Optional[str] = ..., limit_kb: _Optional[int] = ..., hops: _Optional[_Iterable[str]] = ..., signal: _Optional[str] = ..., holder: _Optional[str] = ..., adapter_id: _Optional[str] = ..., identity: _Optional[str] = ...) -> None: ...
