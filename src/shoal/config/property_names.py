"""The one table of property names: what Shoal reads, and what Ice 3.7 accepts under its prefixes.

Keys under `Ice.`, `IceGrid.`, `IceSSL.`, `Glacier2.` and `IceBox.` must be one of these names
(Ice warns "unknown property" for the rest; Shoal reports them with a "did you mean"). Keys under
any other prefix (`omero.*`, `shoal.*`, `IceGridAdmin.*` ...) are always allowed. A name Ice knows
but Shoal does not read is accepted (so OMERO's files load as they are) and reported by
`ignored_properties` for callers that want to warn. Callers decide whether unknown is fatal.

The Ice list mirrors Ice 3.7 `config/PropertyNames.xml` (deprecated names dropped), with its
property classes (`proxy`, `acm`, `threadpool`, `objectadapter`) expanded below; `<any>` stands
for any non-empty run of non-whitespace characters, as in Ice.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from shoal.config.properties import Origin, Properties

__all__ = [
    "CHECKED_PREFIXES",
    "ICE_PROPERTIES",
    "SHOAL_PROPERTIES",
    "UnknownProperty",
    "ignored_properties",
    "is_ice_property",
    "is_shoal_property",
    "suggest",
    "unknown_properties",
]

#: Prefixes (the part before the first dot) whose keys must be known names.
CHECKED_PREFIXES = frozenset({"Ice", "IceGrid", "IceSSL", "Glacier2", "IceBox"})

#: Names Shoal reads and honours.
SHOAL_PROPERTIES: frozenset[str] = frozenset(
    {
        "Ice.Config",
        "Ice.ProgramName",
        "Ice.Default.Host",
        "Ice.Default.Locator",
        "Ice.Default.Protocol",
        "Ice.Default.Router",
        "Ice.Default.Timeout",
        "Ice.MessageSizeMax",
        "Ice.StdErr",
        "Ice.StdOut",
        "Ice.Admin.Endpoints",
        "Ice.Admin.Enabled",
        "Ice.Admin.InstanceName",
        "Ice.Admin.ServerId",
        "IceGrid.InstanceName",
        "IceGrid.Registry.Client.Endpoints",
        "IceGrid.Registry.Internal.Endpoints",
        "IceGrid.Registry.Server.Endpoints",
        "IceGrid.Registry.AdminPermissionsVerifier",
        "IceGrid.Registry.AdminCryptPasswords",
        "IceGrid.Registry.PermissionsVerifier",
        "IceGrid.Registry.CryptPasswords",
        "IceGrid.Registry.DynamicRegistration",
        "IceGrid.Registry.Data",
        "IceGrid.Registry.NodeSessionTimeout",
        "IceGrid.Registry.SessionTimeout",
        "IceGrid.Registry.DefaultTemplates",
        "IceGrid.Node.Name",
        "IceGrid.Node.Endpoints",
        "IceGrid.Node.Data",
        "IceGrid.Node.CollocateRegistry",
        "IceGrid.Node.DisableOnFailure",
        "IceGrid.Node.Output",
        "IceGrid.Node.RedirectErrToOut",
        "IceGrid.Node.WaitTime",
        "IceGrid.Node.PropertiesOverride",
        "IceSSL.CAs",
        "IceSSL.CertFile",
        "IceSSL.KeyFile",
        "IceSSL.Password",
        "IceSSL.DefaultDir",
        "IceSSL.VerifyPeer",
        "IceSSL.CheckCertName",
        "IceSSL.Ciphers",
        "IceSSL.Protocols",
        "Glacier2.Client.Endpoints",
        "Glacier2.Server.Endpoints",
        "Glacier2.InstanceName",
        "Glacier2.PermissionsVerifier",
        "Glacier2.CryptPasswords",
        "Glacier2.SessionManager",
        "Glacier2.SessionTimeout",
        "Glacier2.Client.ForwardContext",
        "Glacier2.Filter.Category.Accept",
        "Glacier2.Filter.AdapterId.Accept",
        "Glacier2.Filter.Identity.Accept",
    }
)

_CLASS_SUFFIXES: dict[str, tuple[str, ...]] = {
    "proxy": (
        "",
        ".EndpointSelection",
        ".ConnectionCached",
        ".PreferSecure",
        ".LocatorCacheTimeout",
        ".InvocationTimeout",
        ".Locator",
        ".Router",
        ".CollocationOptimized",
        ".Context.<any>",
    ),
    "acm": ("", ".Timeout", ".Heartbeat", ".Close"),
    # prefix-only classes: the bare name itself is not a property
    "threadpool": (
        ".Size",
        ".SizeMax",
        ".SizeWarn",
        ".StackSize",
        ".Serialize",
        ".ThreadIdleTime",
        ".ThreadPriority",
    ),
}
_CLASS_SUFFIXES["objectadapter"] = (
    *(".ACM" + s for s in _CLASS_SUFFIXES["acm"]),
    ".AdapterId",
    ".Endpoints",
    *(".Locator" + s for s in _CLASS_SUFFIXES["proxy"]),
    ".PublishedEndpoints",
    ".ReplicaGroupId",
    *(".Router" + s for s in _CLASS_SUFFIXES["proxy"]),
    ".ProxyOptions",
    *(".ThreadPool" + s for s in _CLASS_SUFFIXES["threadpool"]),
    ".MessageSizeMax",
)

# Ice 3.7 PropertyNames.xml, section by section: "Name" or "Name @class".
_ICE_37 = {
    "Ice": """
        AcceptClassCycles ACM@acm ACM.Client@acm ACM.Server@acm Admin@objectadapter
        Admin.DelayCreation Admin.Enabled Admin.Facets Admin.InstanceName Admin.Logger.KeepLogs
        Admin.Logger.KeepTraces Admin.Logger.Properties Admin.ServerId
        BackgroundLocatorCacheUpdates BatchAutoFlushSize ChangeUser ClassGraphDepthMax
        ClientAccessPolicyProtocol Compression.Level CollectObjects Config ConsoleListener
        Default.CollocationOptimized Default.EncodingVersion Default.EndpointSelection Default.Host
        Default.Locator@proxy Default.LocatorCacheTimeout Default.InvocationTimeout Default.Package
        Default.PreferSecure Default.Protocol Default.Router@proxy Default.SlicedFormat
        Default.SourceAddress Default.Timeout EventLog.Source FactoryAssemblies HTTPProxyHost
        HTTPProxyPort ImplicitContext InitPlugins IPv4 IPv6 LogFile LogFile.SizeMax
        LogStdErr.Convert MessageSizeMax Nohup NullHandleAbort Override.CloseTimeout
        Override.Compress Override.ConnectTimeout Override.Timeout Override.Secure Package.<any>
        Plugin.<any> PluginLoadOrder PreferIPv6Address PreloadAssemblies PrintAdapterReady
        PrintProcessId PrintStackTraces ProgramName RetryIntervals ServerIdleTime SOCKSProxyHost
        SOCKSProxyPort StdErr StdOut SyslogFacility ThreadPool.Client@threadpool
        ThreadPool.Server@threadpool ThreadPriority ToStringMode Trace.Admin.Properties
        Trace.Admin.Logger Trace.Locator Trace.Network Trace.Protocol Trace.Retry Trace.Slicing
        Trace.ThreadPool UDP.RcvSize UDP.SndSize TCP.Backlog TCP.RcvSize TCP.SndSize
        UseApplicationClassLoader UseOSLog UseSyslog UseSystemdJournal Warn.AMICallback
        Warn.Connections Warn.Datagrams Warn.Dispatch Warn.Endpoints Warn.UnknownProperties
        Warn.UnusedProperties CacheMessageBuffers ThreadInterruptSafe
    """,
    "IceSSL": """
        Alias CAs CertAuthDir CertAuthFile CertStore CertStoreLocation CertFile CertVerifier
        CheckCertName CheckCRL Ciphers CertificateRevocationListFiles DefaultDir DH.<any> DHParams
        EntropyDaemon FindCert InitOpenSSL KeyFile Keychain KeychainPassword Keystore
        KeystorePassword KeystoreType Password PasswordCallback PasswordRetryMax Protocols
        ProtocolVersionMax ProtocolVersionMin Random RevocationCheck RevocationCheckCacheOnly
        SchannelStrongCrypto SecurityLevel Trace.Security TrustOnly TrustOnly.Client
        TrustOnly.Server TrustOnly.Server.<any> Truststore TruststorePassword TruststoreType
        UsePlatformCAs VerifyDepthMax VerifyPeer
    """,
    "IceBox": """
        InheritProperties LoadOrder PrintServicesReady Service.<any> ServiceManager
        Trace.ServiceObserver UseSharedCommunicator.<any>
    """,
    "IceGrid": """
        AdminRouter@objectadapter InstanceName Node@objectadapter Node.AllowRunningServersAsRoot
        Node.AllowEndpointsOverride Node.CollocateRegistry Node.Data Node.DisableOnFailure
        Node.Name Node.Output Node.ProcessorSocketCount Node.PrintServersReady
        Node.PropertiesOverride Node.RedirectErrToOut Node.Trace.Activator Node.Trace.Adapter
        Node.Trace.Admin Node.Trace.Patch Node.Trace.Replica Node.Trace.Server Node.UserAccounts
        Node.UserAccountMapper@proxy Node.WaitTime Registry.AdminCryptPasswords
        Registry.AdminPermissionsVerifier@proxy Registry.AdminSessionFilters
        Registry.AdminSessionManager@objectadapter Registry.AdminSSLPermissionsVerifier@proxy
        Registry.Client@objectadapter Registry.CryptPasswords Registry.DefaultTemplates
        Registry.Discovery@objectadapter Registry.Discovery.Enabled Registry.Discovery.Address
        Registry.Discovery.Port Registry.Discovery.Interface Registry.DynamicRegistration
        Registry.Internal@objectadapter Registry.LMDB.MapSize Registry.LMDB.Path
        Registry.NodeSessionTimeout Registry.PermissionsVerifier@proxy Registry.ReplicaName
        Registry.ReplicaSessionTimeout Registry.RequireNodeCertCN Registry.RequireReplicaCertCN
        Registry.Server@objectadapter Registry.SessionFilters Registry.SessionManager@objectadapter
        Registry.SessionTimeout Registry.SSLPermissionsVerifier@proxy Registry.Trace.Admin
        Registry.Trace.Application Registry.Trace.Adapter Registry.Trace.Discovery
        Registry.Trace.Locator Registry.Trace.Node Registry.Trace.Object Registry.Trace.Patch
        Registry.Trace.Replica Registry.Trace.Server Registry.Trace.Session
        Registry.Trace.Subscriber Registry.Trace.Topic Registry.Trace.TopicManager
        Registry.UserAccounts
    """,
    "Glacier2": """
        AddConnectionContext Client@objectadapter Client.AlwaysBatch Client.Buffered
        Client.ForwardContext Client.SleepTime Client.Trace.Override Client.Trace.Reject
        Client.Trace.Request CryptPasswords Filter.Address.Reject Filter.Address.Accept
        Filter.ProxySizeMax Filter.Category.Accept Filter.Category.AcceptUser
        Filter.AdapterId.Accept Filter.Identity.Accept InstanceName PermissionsVerifier@proxy
        ReturnClientProxy SSLPermissionsVerifier@proxy RoutingTable.MaxSize Server@objectadapter
        Server.AlwaysBatch Server.Buffered Server.ForwardContext Server.SleepTime
        Server.Trace.Override Server.Trace.Request SessionManager@proxy SSLSessionManager@proxy
        SessionTimeout Trace.RoutingTable Trace.Session
    """,
}


def _expand_ice_table() -> frozenset[str]:
    names: set[str] = set()
    for section, listing in _ICE_37.items():
        for entry in listing.split():
            name, _, property_class = entry.partition("@")
            full_name = f"{section}.{name}"
            suffixes = _CLASS_SUFFIXES[property_class] if property_class else ("",)
            names.update(full_name + suffix for suffix in suffixes)
    return frozenset(names)


#: Every name Ice 3.7 accepts under CHECKED_PREFIXES, plus Shoal's (IceGrid.Registry.Data is 3.6).
ICE_PROPERTIES: frozenset[str] = _expand_ice_table() | SHOAL_PROPERTIES

_LITERAL_NAMES = frozenset(name for name in ICE_PROPERTIES if "<any>" not in name)
_PATTERNS = tuple(
    re.compile(r"\S+".join(re.escape(part) for part in name.split("<any>")))
    for name in sorted(ICE_PROPERTIES)
    if "<any>" in name
)


class UnknownProperty(NamedTuple):
    """A key under a checked prefix that is no known name; `suggestion` is the closest one."""

    key: str
    origin: Origin
    suggestion: str | None


def _is_checked(key: str) -> bool:
    return key.partition(".")[0] in CHECKED_PREFIXES


def is_ice_property(key: str) -> bool:
    """True if Ice 3.7 (or Shoal) knows the name, or the key is outside the checked prefixes."""
    if not _is_checked(key) or key in _LITERAL_NAMES:
        return True
    return any(pattern.fullmatch(key) for pattern in _PATTERNS)


def is_shoal_property(key: str) -> bool:
    """True if Shoal reads this key (or the key is outside the checked prefixes)."""
    return not _is_checked(key) or key in SHOAL_PROPERTIES


def suggest(key: str) -> str | None:
    """The known name closest to `key` (case differences first, as Ice does), or None."""
    for name in _LITERAL_NAMES:
        if name.lower() == key.lower():
            return name
    matches = difflib.get_close_matches(key, _LITERAL_NAMES, n=1, cutoff=0.75)
    return matches[0] if matches else None


def unknown_properties(properties: Properties) -> list[UnknownProperty]:
    """Keys under CHECKED_PREFIXES that Ice and Shoal do not know, in key order."""
    return [
        UnknownProperty(entry.key, entry.origin, suggest(entry.key))
        for entry in properties.entries()
        if not is_ice_property(entry.key)
    ]


def ignored_properties(properties: Properties) -> list[tuple[str, Origin]]:
    """Keys Ice knows but Shoal does not read (accepted for compatibility, without effect)."""
    return [
        (entry.key, entry.origin)
        for entry in properties.entries()
        if is_ice_property(entry.key) and not is_shoal_property(entry.key)
    ]
