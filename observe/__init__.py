"""Operational signals: Prometheus metrics (metrics.py) and how they are exposed (exposition.py).

The bottom layer: it imports no other phigate package, so every layer may count into it."""
