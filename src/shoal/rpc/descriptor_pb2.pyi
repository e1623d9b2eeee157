from shoal.rpc import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Activation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MANUAL: _ClassVar[Activation]
    ON_DEMAND: _ClassVar[Activation]
    ALWAYS: _ClassVar[Activation]
    SESSION: _ClassVar[Activation]
MANUAL: Activation
ON_DEMAND: Activation
ALWAYS: Activation
SESSION: Activation

class ObjectDescription(_message.Message):
    __slots__ = ("identity", "type", "proxy_options", "property")
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PROXY_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    PROPERTY_FIELD_NUMBER: _ClassVar[int]
    identity: str
    type: str
    proxy_options: str
    property: str
    def __init__(self, identity: _Optional[str] = ..., type: _Optional[str] = ..., proxy_options: _Optional[str] = ..., property: _Optional[str] = ...) -> None: ...

class AdapterDescription(_message.Message):
    __slots__ = ("name", "id", "endpoints", "replica_group", "priority", "proxy_options", "register_process", "server_lifetime", "description", "objects", "allocatables")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    REPLICA_GROUP_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    PROXY_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    REGISTER_PROCESS_FIELD_NUMBER: _ClassVar[int]
    SERVER_LIFETIME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    ALLOCATABLES_FIELD_NUMBER: _ClassVar[int]
    name: str
    id: str
    endpoints: str
    replica_group: str
    priority: str
    proxy_options: str
    register_process: bool
    server_lifetime: bool
    description: str
    objects: _containers.RepeatedCompositeFieldContainer[ObjectDescription]
    allocatables: _containers.RepeatedCompositeFieldContainer[ObjectDescription]
    def __init__(self, name: _Optional[str] = ..., id: _Optional[str] = ..., endpoints: _Optional[str] = ..., replica_group: _Optional[str] = ..., priority: _Optional[str] = ..., proxy_options: _Optional[str] = ..., register_process: _Optional[bool] = ..., server_lifetime: _Optional[bool] = ..., description: _Optional[str] = ..., objects: _Optional[_Iterable[_Union[ObjectDescription, _Mapping]]] = ..., allocatables: _Optional[_Iterable[_Union[ObjectDescription, _Mapping]]] = ...) -> None: ...

class DbEnvDescription(_message.Message):
    __slots__ = ("name", "home", "description", "properties")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    name: str
    home: str
    description: str
    properties: _containers.RepeatedCompositeFieldContainer[_common_pb2.Property]
    def __init__(self, name: _Optional[str] = ..., home: _Optional[str] = ..., description: _Optional[str] = ..., properties: _Optional[_Iterable[_Union[_common_pb2.Property, _Mapping]]] = ...) -> None: ...

class LogDescription(_message.Message):
    __slots__ = ("path", "property")
    PATH_FIELD_NUMBER: _ClassVar[int]
    PROPERTY_FIELD_NUMBER: _ClassVar[int]
    path: str
    property: str
    def __init__(self, path: _Optional[str] = ..., property: _Optional[str] = ...) -> None: ...

class DistributionDescription(_message.Message):
    __slots__ = ("icepatch", "directories")
    ICEPATCH_FIELD_NUMBER: _ClassVar[int]
    DIRECTORIES_FIELD_NUMBER: _ClassVar[int]
    icepatch: str
    directories: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, icepatch: _Optional[str] = ..., directories: _Optional[_Iterable[str]] = ...) -> None: ...

class ServiceDescription(_message.Message):
    __slots__ = ("name", "entry", "description", "properties", "adapters", "dbenvs", "logs")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    ADAPTERS_FIELD_NUMBER: _ClassVar[int]
    DBENVS_FIELD_NUMBER: _ClassVar[int]
    LOGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    entry: str
    description: str
    properties: _containers.RepeatedCompositeFieldContainer[_common_pb2.Property]
    adapters: _containers.RepeatedCompositeFieldContainer[AdapterDescription]
    dbenvs: _containers.RepeatedCompositeFieldContainer[DbEnvDescription]
    logs: _containers.RepeatedCompositeFieldContainer[LogDescription]
    def __init__(self, name: _Optional[str] = ..., entry: _Optional[str] = ..., description: _Optional[str] = ..., properties: _Optional[_Iterable[_Union[_common_pb2.Property, _Mapping]]] = ..., adapters: _Optional[_Iterable[_Union[AdapterDescription, _Mapping]]] = ..., dbenvs: _Optional[_Iterable[_Union[DbEnvDescription, _Mapping]]] = ..., logs: _Optional[_Iterable[_Union[LogDescription, _Mapping]]] = ...) -> None: ...

class ServerDescription(_message.Message):
    __slots__ = ("id", "node", "application", "exe", "activation", "activation_timeout_seconds", "deactivation_timeout_seconds", "pwd", "user", "ice_version", "application_distrib", "allocatable", "description", "options", "envs", "properties", "adapters", "dbenvs", "logs", "distrib", "icebox", "services")
    ID_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    EXE_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DEACTIVATION_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PWD_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    ICE_VERSION_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_DISTRIB_FIELD_NUMBER: _ClassVar[int]
    ALLOCATABLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    ENVS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    ADAPTERS_FIELD_NUMBER: _ClassVar[int]
    DBENVS_FIELD_NUMBER: _ClassVar[int]
    LOGS_FIELD_NUMBER: _ClassVar[int]
    DISTRIB_FIELD_NUMBER: _ClassVar[int]
    ICEBOX_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    id: str
    node: str
    application: str
    exe: str
    activation: Activation
    activation_timeout_seconds: int
    deactivation_timeout_seconds: int
    pwd: str
    user: str
    ice_version: str
    application_distrib: bool
    allocatable: bool
    description: str
    options: _containers.RepeatedScalarFieldContainer[str]
    envs: _containers.RepeatedScalarFieldContainer[str]
    properties: _containers.RepeatedCompositeFieldContainer[_common_pb2.Property]
    adapters: _containers.RepeatedCompositeFieldContainer[AdapterDescription]
    dbenvs: _containers.RepeatedCompositeFieldContainer[DbEnvDescription]
    logs: _containers.RepeatedCompositeFieldContainer[LogDescription]
    distrib: DistributionDescription
    icebox: bool
    services: _containers.RepeatedCompositeFieldContainer[ServiceDescription]
    def __init__(self, id: _Optional[str] = ..., node: _Optional[str] = ..., application: _Optional[str] = ..., exe: _Optional[str] = ..., activation: _Optional[_Union[Activation, str]] = ..., activation_timeout_seconds: _Optional[int] = ..., deactivation_timeout_seconds: _Optional[int] = ..., pwd: _Optional[str] = ..., user: _Optional[str] = ..., ice_version: _Optional[str] = ..., application_distrib: _Optional[bool] = ..., allocatable: _Optional[bool] = ..., description: _Optional[str] = ..., options: _Optional[_Iterable[str]] = ..., envs: _Optional[_Iterable[str]] = ..., properties: _Optional[_Iterable[_Union[_common_pb2.Property, _Mapping]]] = ..., adapters: _Optional[_Iterable[_Union[AdapterDescription, _Mapping]]] = ..., dbenvs: _Optional[_Iterable[_Union[DbEnvDescription, _Mapping]]] = ..., logs: _Optional[_Iterable[_Union[LogDescription, _Mapping]]] = ..., distrib: _Optional[_Union[DistributionDescription, _Mapping]] = ..., icebox: _Optional[bool] = ..., services: _Optional[_Iterable[_Union[ServiceDescription, _Mapping]]] = ...) -> None: ...
