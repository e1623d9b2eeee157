from shoal.rpc import common_pb2 as _common_pb2
from shoal.rpc import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegisterNodeRequest(_message.Message):
    __slots__ = ("info", "servers", "load")
    INFO_FIELD_NUMBER: _ClassVar[int]
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    info: _common_pb2.NodeInfo
    servers: _containers.RepeatedCompositeFieldContainer[_common_pb2.ServerStatus]
    load: _common_pb2.LoadInfo
    def __init__(self, info: _Optional[_Union[_common_pb2.NodeInfo, _Mapping]] = ..., servers: _Optional[_Iterable[_Union[_common_pb2.ServerStatus, _Mapping]]] = ..., load: _Optional[_Union[_common_pb2.LoadInfo, _Mapping]] = ...) -> None: ...

class RegisterNodeReply(_message.Message):
    __slots__ = ("session_id", "keepalive_seconds", "session_timeout_seconds")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SESSION_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    keepalive_seconds: int
    session_timeout_seconds: int
    def __init__(self, session_id: _Optional[str] = ..., keepalive_seconds: _Optional[int] = ..., session_timeout_seconds: _Optional[int] = ...) -> None: ...

class KeepaliveRequest(_message.Message):
    __slots__ = ("session_id", "load")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    load: _common_pb2.LoadInfo
    def __init__(self, session_id: _Optional[str] = ..., load: _Optional[_Union[_common_pb2.LoadInfo, _Mapping]] = ...) -> None: ...

class KeepaliveReply(_message.Message):
    __slots__ = ("keepalive_seconds",)
    KEEPALIVE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    keepalive_seconds: int
    def __init__(self, keepalive_seconds: _Optional[int] = ...) -> None: ...

class ReportStateRequest(_message.Message):
    __slots__ = ("session_id", "servers")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    servers: _containers.RepeatedCompositeFieldContainer[_common_pb2.ServerStatus]
    def __init__(self, session_id: _Optional[str] = ..., servers: _Optional[_Iterable[_Union[_common_pb2.ServerStatus, _Mapping]]] = ...) -> None: ...

class ReportStateReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UnregisterNodeRequest(_message.Message):
    __slots__ = ("session_id", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    reason: str
    def __init__(self, session_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class UnregisterNodeReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LoadServersRequest(_message.Message):
    __slots__ = ("revision", "servers", "complete", "disabled_server_ids", "dynamic_registration", "no_restart")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    DISABLED_SERVER_IDS_FIELD_NUMBER: _ClassVar[int]
    DYNAMIC_REGISTRATION_FIELD_NUMBER: _ClassVar[int]
    NO_RESTART_FIELD_NUMBER: _ClassVar[int]
    revision: int
    servers: _containers.RepeatedCompositeFieldContainer[_descriptor_pb2.ServerDescription]
    complete: bool
    disabled_server_ids: _containers.RepeatedScalarFieldContainer[str]
    dynamic_registration: bool
    no_restart: bool
    def __init__(self, revision: _Optional[int] = ..., servers: _Optional[_Iterable[_Union[_descriptor_pb2.ServerDescription, _Mapping]]] = ..., complete: _Optional[bool] = ..., disabled_server_ids: _Optional[_Iterable[str]] = ..., dynamic_registration: _Optional[bool] = ..., no_restart: _Optional[bool] = ...) -> None: ...

class LoadOutcome(_message.Message):
    __slots__ = ("server_id", "result", "error", "status")
    class Result(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNCHANGED: _ClassVar[LoadOutcome.Result]
        ADDED: _ClassVar[LoadOutcome.Result]
        UPDATED: _ClassVar[LoadOutcome.Result]
        RESTARTED: _ClassVar[LoadOutcome.Result]
        FAILED: _ClassVar[LoadOutcome.Result]
    UNCHANGED: LoadOutcome.Result
    ADDED: LoadOutcome.Result
    UPDATED: LoadOutcome.Result
    RESTARTED: LoadOutcome.Result
    FAILED: LoadOutcome.Result
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    result: LoadOutcome.Result
    error: _common_pb2.ErrorDetail
    status: _common_pb2.ServerStatus
    def __init__(self, server_id: _Optional[str] = ..., result: _Optional[_Union[LoadOutcome.Result, str]] = ..., error: _Optional[_Union[_common_pb2.ErrorDetail, _Mapping]] = ..., status: _Optional[_Union[_common_pb2.ServerStatus, _Mapping]] = ...) -> None: ...

class LoadServersReply(_message.Message):
    __slots__ = ("outcomes", "destroyed")
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    DESTROYED_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[LoadOutcome]
    destroyed: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, outcomes: _Optional[_Iterable[_Union[LoadOutcome, _Mapping]]] = ..., destroyed: _Optional[_Iterable[str]] = ...) -> None: ...

class DestroyServersRequest(_message.Message):
    __slots__ = ("server_ids",)
    SERVER_IDS_FIELD_NUMBER: _ClassVar[int]
    server_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, server_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DestroyServersReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StartServerRequest(_message.Message):
    __slots__ = ("server_id",)
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    def __init__(self, server_id: _Optional[str] = ...) -> None: ...

class StartServerReply(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.ServerStatus
    def __init__(self, status: _Optional[_Union[_common_pb2.ServerStatus, _Mapping]] = ...) -> None: ...

class StopServerRequest(_message.Message):
    __slots__ = ("server_id",)
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    def __init__(self, server_id: _Optional[str] = ...) -> None: ...

class StopServerReply(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.ServerStatus
    def __init__(self, status: _Optional[_Union[_common_pb2.ServerStatus, _Mapping]] = ...) -> None: ...

class EnableServerRequest(_message.Message):
    __slots__ = ("server_id",)
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    def __init__(self, server_id: _Optional[str] = ...) -> None: ...

class EnableServerReply(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.ServerStatus
    def __init__(self, status: _Optional[_Union[_common_pb2.ServerStatus, _Mapping]] = ...) -> None: ...

class DisableServerRequest(_message.Message):
    __slots__ = ("server_id",)
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    def __init__(self, server_id: _Optional[str] = ...) -> None: ...

class DisableServerReply(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.ServerStatus
    def __init__(self, status: _Optional[_Union[_common_pb2.ServerStatus, _Mapping]] = ...) -> None: ...

class SignalServerRequest(_message.Message):
    __slots__ = ("server_id", "signal")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    signal: str
    def __init__(self, server_id: _Optional[str] = ..., signal: _Optional[str] = ...) -> None: ...

class SignalServerReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class OutputRequest(_message.Message):
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

class OutputReply(_message.Message):
    __slots__ = ("chunk",)
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    chunk: _common_pb2.OutputChunk
    def __init__(self, chunk: _Optional[_Union[_common_pb2.OutputChunk, _Mapping]] = ...) -> None: ...

class PingRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PingReply(_message.Message):
    __slots__ = ("node", "pid")
    NODE_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    node: str
    pid: int
    def __init__(self, node: _Optional[str] = ..., pid: _Optional[int] = ...) -> None: ...

class GetLoadRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetLoadReply(_message.Message):
    __slots__ = ("load",)
    LOAD_FIELD_NUMBER: _ClassVar[int]
    load: _common_pb2.LoadInfo
    def __init__(self, load: _Optional[_Union[_common_pb2.LoadInfo, _Mapping]] = ...) -> None: ...

class ShutdownRequest(_message.Message):
    __slots__ = ("stop_servers",)
    STOP_SERVERS_FIELD_NUMBER: _ClassVar[int]
    stop_servers: bool
    def __init__(self, stop_servers: _Optional[bool] = ...) -> None: ...

class ShutdownReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RegisterAdaptersRequest(_message.Message):
    __slots__ = ("server_id", "adapters")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    ADAPTERS_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    adapters: _containers.RepeatedCompositeFieldContainer[_common_pb2.AdapterStatus]
    def __init__(self, server_id: _Optional[str] = ..., adapters: _Optional[_Iterable[_Union[_common_pb2.AdapterStatus, _Mapping]]] = ...) -> None: ...

class RegisterAdaptersReply(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: _common_pb2.ServerState
    def __init__(self, state: _Optional[_Union[_common_pb2.ServerState, str]] = ...) -> None: ...

class UnregisterAdaptersRequest(_message.Message):
    __slots__ = ("server_id",)
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    def __init__(self, server_id: _Optional[str] = ...) -> None: ...

class UnregisterAdaptersReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
