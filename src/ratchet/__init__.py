"""Ratchet: a spot trading engine for Coinbase Advanced Trade."""

__version__ = "0.1.0"
