"""Settings a practice may change, in `<data dir>/config.toml` (optional; every key has a default).

# How long a connection's authorisation lasts before it must be renewed by reconnecting
# (Dext's policy: one year). 0 = never expires.
connection_expiry_days = 365

# The practice's own app registrations (see the README: "Registering with Xero and Intuit").
# The environment wins: DEXT_TUI_XERO_CLIENT_ID, DEXT_TUI_QUICKBOOKS_CLIENT_ID, ..._CLIENT_SECRET.
[xero]
client_id = "..."

[quickbooks]
client_id = "..."
client_secret = "..."
# environment = "development"   # development keys reach Intuit's sandbox companies only
# redirect_uri = "https://..."  # production keys need an HTTPS redirect: paste where it lands
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dext_tui.core.errors import DextError

CONFIG_NAME = "config.toml"


PROVIDER_KEYS = {
    "xero": {"client_id", "redirect_uri"},
    "quickbooks": {"client_id", "client_secret", "redirect_uri", "environment"},
}


DEFAULT_EXPIRY_DAYS = 365


@dataclass(frozen=True, slots=True)
class Config:
    connection_expiry_days: int = DEFAULT_EXPIRY_DAYS
    # {"xero": {"client_id": ...}, "quickbooks": {...}}: the practice's app registrations
    providers: dict[str, dict[str, str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The settings as the connectors read them (`[xero] client_id` -> {"xero": {"client_id"}})."""
        return {"connection_expiry_days": self.connection_expiry_days, **self.providers}


def load_config(data_dir: Path) -> Config:
    """The data dir's config.toml, or the defaults. A bad file is an error naming the file and the key."""
    path = data_dir / CONFIG_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise DextError(f"cannot read {path}: {exc.strerror or exc}") from None
    import tomllib

    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DextError(f"{path} is not valid TOML: {exc}") from None
    known = {"connection_expiry_days", *PROVIDER_KEYS}
    unknown = sorted(set(values) - known)
    if unknown:
        raise DextError(f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(known))})")
    # (Not Config.connection_expiry_days: on a slots dataclass that is the slot, not the default.)
    days = values.get("connection_expiry_days", DEFAULT_EXPIRY_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 36500:
        raise DextError(f"{path}: connection_expiry_days must be a whole number of days from 0 to 36500")
    providers: dict[str, dict[str, str]] = {}
    for provider, keys in PROVIDER_KEYS.items():
        section = values.get(provider)
        if section is None:
            continue
        if not isinstance(section, dict):
            raise DextError(f"{path}: [{provider}] must be a section ({', '.join(sorted(keys))})")
        for key, value in section.items():
            if key not in keys:
                raise DextError(
                    f"{path}: [{provider}] has no setting {key!r} (known: {', '.join(sorted(keys))})"
                )
            if not isinstance(value, str) or not value.strip():
                raise DextError(f"{path}: [{provider}] {key} must be a non-empty string")
        providers[provider] = {k: v.strip() for k, v in section.items()}
    environment = providers.get("quickbooks", {}).get("environment", "production")
    if environment not in ("production", "development"):
        raise DextError(f'{path}: [quickbooks] environment must be "production" or "development"')
    return Config(connection_expiry_days=days, providers=providers)
