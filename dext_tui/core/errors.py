"""Typed errors, each with one user-facing message (`str(error)`)."""

from __future__ import annotations


class DextError(Exception):
    """Base of every error a user may see. Its text is the one-line message shown to them."""


class UsageError(DextError):
    """The user asked for something malformed (exit code 2)."""


class NotFound(DextError):
    """An id, name or workspace that does not exist."""


class NotConnected(DextError):
    """The operation needs a connection and the workspace has none."""


class ConnectorError(DextError):
    """A connector could not do its work."""


class ConnectionExpired(ConnectorError):
    """The provider refuses the credentials, or the ledger is gone: reconnect."""


class InvalidData(ConnectorError):
    """The provider answered with data we cannot accept (a ledger with errors, a malformed payload)."""


class RateLimited(ConnectorError):
    pass


class ProviderUnavailable(ConnectorError):
    pass
