"""Accountability: who may run which face operation and why, what they did, and for how long
faces are kept. Every operation runs through one governed call, `gate.governed`, driven by the
table of `catalog.py`."""
