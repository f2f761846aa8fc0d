"""Perception layer (感知层): devices (``perception.devices``), their readings
(``perception.telemetry``: HTTP and MQTT ingestion, the store), the NGSI-LD context store
(``perception.context``) and rules, alarms, the streaming anomaly detector and forecasts
(``perception.rules``)."""
