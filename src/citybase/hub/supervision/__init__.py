"""Supervision (电子监察): deadlines counted in working days, yellow and red warnings, reminders
(催办) and escalation, and the figures a 12345 centre is judged on."""
