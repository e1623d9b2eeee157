"""The one root of every error Shoal shows a user, with a message and a hint on what to do.

ShoalError                 message + hint; the CLI prints it as one line (plus the hint)
├── ConfigError            a property file or value is wrong (file, line, key)
├── SiteError              no site (prefix) found, or a site file is missing
├── DescriptorError        an application descriptor is invalid: every problem, file:line each
├── NotFoundError          no such server, node or application (`name`)
│   └── ServerNotFoundError, NodeNotFoundError, ApplicationNotFoundError,
│       AdapterNotFoundError, ObjectNotFoundError
├── AlreadyExistsError     an application or server of that name exists
├── NodeActiveError        a node name is held by a live session (`holder_host`)
├── UnreachableError       a registry or node does not answer at `address`
│   └── NodeUnreachableError   the registry cannot reach a node
├── ServerDisabledError    a disabled server cannot be started
├── BadSignalError         not a signal IceGrid accepts
├── PermissionDeniedError  a verifier refused the caller
├── MessageTooLargeError   a message is over Ice.MessageSizeMax (`limit_kb`, `hops` to raise it)
├── BusyError              another admin holds the update lock (`holder`)
├── TimedOutError          waiting ran past its limit (e.g. server activation)
├── SessionExpiredError    a node's session is unknown or expired: register again
├── InvalidArgumentError   a request value is malformed
├── RemoteError            the other process failed unexpectedly (`status`: the gRPC status name)
└── RegistryDatabaseError  the registry database (IceGrid.Registry.Data) cannot do what was asked
    ├── DatabaseInUseError     another live registry holds the database (its pid named)
    ├── DatabaseCorruptError   the file is not a database or fails its integrity check
    ├── DatabaseVersionError   written by a newer Shoal (both schema versions named)
    └── RevisionConflictError  a deploy expected a revision that is no longer the current one
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class ShoalError(Exception):
    """An error with a readable message and, when we know one, what to do about it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(ShoalError):
    """A property file or a property value is malformed; names the file, line and key."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
        hint: str = "",
    ) -> None:
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        what = f"{key}: " if key is not None else ""
        super().__init__(f"{where}{what}{message}", hint)
        self.file = file
        self.line = line
        self.key = key


class SiteError(ShoalError):
    """The site (prefix) cannot be found, or one of its files is missing."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a descriptor, located at file:line (line 0 when unknown)."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class DescriptorError(ShoalError):
    """An application descriptor is invalid. Carries every problem found, in file order."""

    def __init__(self, problems: Iterable[Problem], hint: str = "") -> None:
        self.problems = tuple(problems)
        super().__init__(
            "\n".join(str(p) for p in self.problems),
            hint or "fix the descriptor; nothing was deployed",
        )


class RegistryDatabaseError(ShoalError):
    """The registry database cannot be opened, read or written as asked; names the file."""


class DatabaseInUseError(RegistryDatabaseError):
    """Another live registry holds the database's lock file; `pid` is its process id if known."""

    def __init__(self, message: str, hint: str = "", *, pid: int | None = None) -> None:
        super().__init__(message, hint)
        self.pid = pid


class DatabaseCorruptError(RegistryDatabaseError):
    """The database file is not an SQLite database, or fails its integrity check."""


class DatabaseVersionError(RegistryDatabaseError):
    """The database has a schema version this Shoal does not know (written by a newer one)."""


class RevisionConflictError(RegistryDatabaseError):
    """A deploy expected the application at one revision and found another (a concurrent deploy)."""


# ----------------------------------------------------------------- errors that cross processes
# Each has a code in ErrorDetail (src/shoal/rpc/common.proto); shoal.rpc.errors maps them to
# gRPC status and back. Constructors take the message first, then keyword-only fields, so the
# receiving side rebuilds the same error from the wire.


class NotFoundError(ShoalError):
    """No such object; `name` is what was asked for and `kind` says what it is."""

    kind = "object"

    def __init__(self, message: str, hint: str = "", *, name: str = "") -> None:
        super().__init__(message, hint)
        self.name = name


class ServerNotFoundError(NotFoundError):
    kind = "server"


class NodeNotFoundError(NotFoundError):
    kind = "node"


class ApplicationNotFoundError(NotFoundError):
    kind = "application"


class AdapterNotFoundError(NotFoundError):
    """No adapter with this id is deployed, or its server has not registered it."""

    kind = "object adapter"


class ObjectNotFoundError(NotFoundError):
    """No well-known object with this identity."""

    kind = "object"


class AlreadyExistsError(ShoalError):
    """An application (or server) of that name exists; `kind` is "application" or "server"."""

    def __init__(
        self, message: str, hint: str = "", *, kind: str = "application", name: str = ""
    ) -> None:
        super().__init__(message, hint)
        self.kind = kind
        self.name = name


class NodeActiveError(ShoalError):
    """A node name is already held by a live session (IceGrid's NodeActiveException)."""

    def __init__(
        self, message: str, hint: str = "", *, node: str = "", holder_host: str = ""
    ) -> None:
        super().__init__(message, hint)
        self.node = node
        self.holder_host = holder_host


class UnreachableError(ShoalError):
    """A registry or node does not answer; `address` is where it was tried (Ice endpoints)."""

    def __init__(self, message: str, hint: str = "", *, address: str = "") -> None:
        super().__init__(message, hint)
        self.address = address


class NodeUnreachableError(UnreachableError):
    """The registry cannot reach a node."""

    def __init__(self, message: str, hint: str = "", *, node: str = "", address: str = "") -> None:
        super().__init__(message, hint, address=address)
        self.node = node


class ServerDisabledError(ShoalError):
    """A disabled server cannot be started until it is enabled."""

    def __init__(self, message: str, hint: str = "", *, server_id: str = "") -> None:
        super().__init__(message, hint)
        self.server_id = server_id


class BadSignalError(ShoalError):
    """Not a signal IceGrid accepts (a name such as SIGHUP, or a number 1-63)."""

    def __init__(self, message: str, hint: str = "", *, signal: str = "") -> None:
        super().__init__(message, hint)
        self.signal = signal


class PermissionDeniedError(ShoalError):
    """A permissions verifier refused the caller."""


class MessageTooLargeError(ShoalError):
    """A message is over Ice.MessageSizeMax; `limit_kb` is the limit, `hops` who must raise it."""

    def __init__(
        self, message: str, hint: str = "", *, limit_kb: int = 0, hops: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, hint)
        self.limit_kb = limit_kb
        self.hops = tuple(hops)


class BusyError(ShoalError):
    """Another admin holds the update lock, or the object is in the middle of a change."""

    def __init__(self, message: str, hint: str = "", *, holder: str = "") -> None:
        super().__init__(message, hint)
        self.holder = holder


class TimedOutError(ShoalError):
    """Waiting for something ran past its limit (e.g. "the server activation timed out")."""


class SessionExpiredError(ShoalError):
    """A node's session id is unknown or expired; the node must register again."""


class InvalidArgumentError(ShoalError):
    """A request value is malformed; nothing was changed."""


class RemoteError(ShoalError):
    """The other process failed in a way it did not name; `status` is the gRPC status name."""

    def __init__(self, message: str, hint: str = "", *, status: str = "") -> None:
        super().__init__(message, hint)
        self.status = status
