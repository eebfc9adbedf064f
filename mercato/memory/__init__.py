"""The exchange in one process: every storage port over plain dicts (tests and fast runs)."""
