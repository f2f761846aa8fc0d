"""Perception layer (感知层): devices, telemetry, the context store, rules. Built so far: the
streaming anomaly detector (``perception.rules``); the rest is not built yet."""
