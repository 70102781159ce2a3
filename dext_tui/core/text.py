"""Text from outside (ledgers, APIs) made safe to show in a terminal."""

from __future__ import annotations

import re

# C0 controls (tab included: it breaks column layouts), DEL and C1 controls, and bidi overrides.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str | None) -> str:
    """Show control and escape characters literally (`\\x1b`), so no name can drive the terminal."""
    if not text:
        return ""
    return _UNSAFE.sub(_escape_char, text)
