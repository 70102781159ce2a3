"""Where dext-tui keeps its data: owner-only directories, resolved once per process."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "dext-tui"
ENV_DATA_DIR = "DEXT_TUI_DATA_DIR"
DB_NAME = "dext.db"


@dataclass(frozen=True)
class AppPaths:
    data_dir: Path

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_NAME

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def demo_dir(self) -> Path:
        return self.data_dir / "demo"


def resolve_data_dir(cli_value: str | os.PathLike[str] | None = None) -> Path:
    """`--data-dir` wins, then `DEXT_TUI_DATA_DIR`, then the platform's user data dir."""
    if cli_value:
        return Path(cli_value).expanduser().resolve()
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser().resolve()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) and make it readable by its owner only (0700)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode != 0o700:
        path.chmod(0o700)
    return path


def app_paths(cli_value: str | os.PathLike[str] | None = None) -> AppPaths:
    paths = AppPaths(resolve_data_dir(cli_value))
    try:
        ensure_private_dir(paths.data_dir)
        ensure_private_dir(paths.cache_dir)
    except OSError as exc:
        from dext_tui.core.errors import DextError

        raise DextError(f"cannot use the data dir {paths.data_dir}: {exc.strerror or exc}") from None
    return paths
