"""Perception layer (感知层): devices, telemetry, the context store. Not built yet."""
