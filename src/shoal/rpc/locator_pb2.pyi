from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FindRegistryRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FindRegistryReply(_message.Message):
    __slots__ = ("instance_name", "replica_name", "internal_endpoints", "pid")
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    REPLICA_NAME_FIELD_NUMBER: _ClassVar[int]
    INTERNAL_ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    instance_name: str
    replica_name: str
    internal_endpoints: str
    pid: int
    def __init__(self, instance_name: _Optional[str] = ..., replica_name: _Optional[str] = ..., internal_endpoints: _Optional[str] = ..., pid: _Optional[int] = ...) -> None: ...

class FindAdapterByIdRequest(_message.Message):
    __slots__ = ("adapter_id",)
    ADAPTER_ID_FIELD_NUMBER: _ClassVar[int]
    adapter_id: str
    def __init__(self, adapter_id: _Optional[str] = ...) -> None: ...

class FindAdapterByIdReply(_message.Message):
    __slots__ = ("endpoints", "replicas")
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    endpoints: str
    replicas: _containers.RepeatedCompositeFieldContainer[ReplicaEndpoints]
    def __init__(self, endpoints: _Optional[str] = ..., replicas: _Optional[_Iterable[_Union[ReplicaEndpoints, _Mapping]]] = ...) -> None: ...

class ReplicaEndpoints(_message.Message):
    __slots__ = ("adapter_id", "endpoints")
    ADAPTER_ID_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    adapter_id: str
    endpoints: str
    def __init__(self, adapter_id: _Optional[str] = ..., endpoints: _Optional[str] = ...) -> None: ...

class FindObjectByIdRequest(_message.Message):
    __slots__ = ("identity",)
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    identity: str
    def __init__(self, identity: _Optional[str] = ...) -> None: ...

class FindObjectByIdReply(_message.Message):
    __slots__ = ("endpoints", "adapter_id", "type", "replicas")
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    endpoints: str
    adapter_id: str
    type: str
    replicas: _containers.RepeatedCompositeFieldContainer[ReplicaEndpoints]
    def __init__(self, endpoints: _Optional[str] = ..., adapter_id: _Optional[str] = ..., type: _Optional[str] = ..., replicas: _Optional[_Iterable[_Union[ReplicaEndpoints, _Mapping]]] = ...) -> None: ...

class SetAdapterEndpointsRequest(_message.Message):
    __slots__ = ("adapter_id", "replica_group_id", "endpoints")
    ADAPTER_ID_FIELD_NUMBER: _ClassVar[int]
    REPLICA_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    adapter_id: str
    replica_group_id: str
    endpoints: str
    def __init__(self, adapter_id: _Optional[str] = ..., replica_group_id: _Optional[str] = ..., endpoints: _Optional[str] = ...) -> None: ...

class SetAdapterEndpointsReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
