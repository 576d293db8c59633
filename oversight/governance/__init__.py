"""Accountability: who may run which face operation and why, what they did, and for how long
faces are kept. The api layer calls `gate.admit` before a handler and `gate.record` after it."""
