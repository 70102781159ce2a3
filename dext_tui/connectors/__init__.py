"""Connectors: one module per provider behind the `Connector` protocol in `base`."""
