"""The core (domain, services, store, connectors, sandbox) must work without textual: a headless CLI,
cron, tests."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dext_tui"
CORE_DIRS = ("core", "store", "connectors", "sandbox")


def test_core_source_never_imports_textual() -> None:
    offenders = []
    for folder in CORE_DIRS:
        for path in (PACKAGE / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                offenders += [
                    f"{path.relative_to(PACKAGE)}: {n}" for n in names if n.split(".")[0] == "textual"
                ]
    assert offenders == []


def test_loading_the_core_and_running_the_cli_never_loads_textual(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "import dext_tui.core.service, dext_tui.cli\n"
        f"rc = dext_tui.cli.main(['--data-dir', {str(tmp_path)!r}, 'status', '--json'])\n"
        "assert rc == 0, rc\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
        "print('TEXTUAL:', loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "TEXTUAL: []" in out


def test_reading_commands_never_load_the_orm(tmp_path: Path, small_ledger: Path) -> None:
    """status and lists (cron, scripts, the TUI's first screen) read with plain SQL: loading sqlmodel and
    SQLAlchemy would cost them about half a second each time."""
    data = str(tmp_path / "data")
    cli = [sys.executable, "-m", "dext_tui", "--data-dir", data]
    subprocess.run([*cli, "connect", "beancount", str(small_ledger)], capture_output=True, check=True)
    code = (
        "import sys\n"
        "import dext_tui.cli\n"
        f"assert dext_tui.cli.main(['--data-dir', {data!r}, 'status', '--json']) == 0\n"
        f"assert dext_tui.cli.main(['--data-dir', {data!r}, 'lists', 'suppliers', '--json']) == 0\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel'))\n"
        "print('ORM:', loaded[:3])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert '"Acme Widgets Ltd"' in out  # the reads did answer
    assert "ORM: []" in out
