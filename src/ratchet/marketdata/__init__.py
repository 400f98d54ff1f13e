"""Market data from files: recorded candle CSVs and the bundled demo set."""
