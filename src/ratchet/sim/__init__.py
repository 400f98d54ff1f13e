"""A Coinbase-compatible exchange simulator: the in-process matching core and candle replays."""
