"""The pure trading core: values, rules and state machines; no I/O, no clock reads."""
