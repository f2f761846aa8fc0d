"""Rules and judgement (规则与研判): what in a stream of readings deserves attention.

Thresholds held for a time, rates of change, silence, geofences and the streaming anomaly
detector (``Detector``), their alarms published as ``perception.alarm``; and hour-ahead
forecasts (``forecast``)."""

from citybase.perception.rules.detector import Detector
from citybase.perception.rules.series import score_series

__all__ = ["Detector", "score_series"]
