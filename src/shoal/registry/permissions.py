"""Who may call the Admin service: the one place the admin permissions verifier goes
(IceGrid.Registry.AdminPermissionsVerifier / AdminCryptPasswords). Today: everyone."""

from __future__ import annotations

__all__ = ["AdminPermissions"]


class AdminPermissions:
    """Checks every Admin call before it runs (installed on the client endpoints' server with
    `WireServer.add_service(..., check=permissions.check)`). The null verifier (accept all) for
    now; the verifier issue makes `check` raise PermissionDeniedError, and the call then fails
    with it without running."""

    def check(self, method: str) -> None:
        """Raise PermissionDeniedError to refuse the call; the null verifier accepts all."""
