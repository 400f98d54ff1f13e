"""Backtests: the live engine code on the in-process simulator and a virtual clock."""
