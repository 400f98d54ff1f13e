"""Adapter for the Coinbase Advanced Trade API: auth, REST, WebSocket, rate limits."""
