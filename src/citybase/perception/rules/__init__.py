"""Rules and judgement (规则与研判): what in a stream of readings deserves attention.

Built so far: the streaming anomaly detector (``Detector``). Thresholds, rates of change,
silence and geofences are not built yet."""

from citybase.perception.rules.detector import Detector, score_series

__all__ = ["Detector", "score_series"]
