"""Domain and services. Never imports textual (a test enforces it)."""
