"""dext-tui: manage the connection between a pre-accounting workspace and accounting software."""

__version__ = "0.1.0"
