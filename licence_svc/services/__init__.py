"""Use cases: one transaction each, and the only layer that reads the clock."""
