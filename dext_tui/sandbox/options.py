"""What a sandbox is started with (and what `POST /_sandbox/options` may change while it runs)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

XERO_ACCESS_SECONDS = 1800  # Xero: access tokens last 30 minutes
QBO_ACCESS_SECONDS = 3600  # QuickBooks: one hour
XERO_REFRESH_DAYS = 60.0  # Xero: a refresh token lapses after 60 days unused
QBO_REFRESH_DAYS = 101.0  # QuickBooks: x_refresh_token_expires_in 8726400 s

# Options that only matter when the data is seeded (changing them later needs a reset).
SEED_OPTIONS = frozenset({"seed", "contacts", "accounts", "vendors", "customers"})


@dataclass
class SandboxOptions:
    seed: int = 1
    contacts: int = 400  # Xero contacts in each organisation (some ARCHIVED)
    accounts: int = 0  # Xero accounts in each organisation: 0 = the standard UK chart; more pads it
    vendors: int = 300  # QuickBooks vendors (some inactive)
    customers: int = 200  # QuickBooks customers (some inactive)
    access_token_seconds: int | None = None  # None: the provider's own (Xero 1800, QuickBooks 3600)
    refresh_token_days: float | None = None  # None: the provider's own (Xero 60, QuickBooks 101)
    rate_limit: bool = True
    xero_minute_limit: int = 60  # calls a minute per tenant
    xero_concurrent_limit: int = 5  # calls in progress at once per tenant
    xero_day_limit: int = 5000  # calls a day per tenant
    xero_app_minute_limit: int = 10000  # calls a minute across tenants
    qbo_minute_limit: int = 500  # calls a minute per company (realm)
    qbo_concurrent_limit: int = 10  # calls in progress at once per company
    qbo_deleted_suffix: bool = True  # QuickBooks renames an inactive name "X (deleted)", as it does
    log_requests: bool = False  # one line a request on stderr: method, path (no query), status

    def access_seconds(self, provider: str) -> int:
        if self.access_token_seconds is not None:
            return int(self.access_token_seconds)
        return XERO_ACCESS_SECONDS if provider == "xero" else QBO_ACCESS_SECONDS

    def refresh_seconds(self, provider: str) -> float:
        days = self.refresh_token_days
        if days is None:
            days = XERO_REFRESH_DAYS if provider == "xero" else QBO_REFRESH_DAYS
        return float(days) * 86400.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, changes: dict[str, Any]) -> None:
        """Apply `changes` (name -> value), checked against each option's type. Raises ValueError."""
        known = {f.name: f for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown option {name!r}")
            current = getattr(self, name)
            if name in ("access_token_seconds", "refresh_token_days") and value is None:
                setattr(self, name, None)
                continue
            if isinstance(current, bool) or name in ("rate_limit", "qbo_deleted_suffix", "log_requests"):
                if not isinstance(value, bool):
                    raise ValueError(f"option {name!r} takes true or false")
                setattr(self, name, value)
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"option {name!r} takes a number")
            if value < 0:
                raise ValueError(f"option {name!r} cannot be negative")
            setattr(self, name, float(value) if name == "refresh_token_days" else int(value))
