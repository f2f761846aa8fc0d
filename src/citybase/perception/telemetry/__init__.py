"""Telemetry (监测数据): readings stored as series of (time, value) per device attribute, the
latest value of each, and range, last-N and per-interval aggregate queries."""
