"""Settings a practice may change, in `<data dir>/config.toml` (optional; every key has a default).

# How long a connection's authorisation lasts before it must be renewed by reconnecting
# (Dext's policy: one year). 0 = never expires.
connection_expiry_days = 365
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dext_tui.core.errors import DextError

CONFIG_NAME = "config.toml"


@dataclass(frozen=True, slots=True)
class Config:
    connection_expiry_days: int = 365


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
    known = {"connection_expiry_days"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise DextError(f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(known))})")
    days = values.get("connection_expiry_days", Config.connection_expiry_days)
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 36500:
        raise DextError(f"{path}: connection_expiry_days must be a whole number of days from 0 to 36500")
    return Config(connection_expiry_days=days)
