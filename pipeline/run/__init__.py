"""The runner: planning, single-writer steps, locks, child processes, pairing and linking over the store."""
