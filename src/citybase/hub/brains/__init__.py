"""Brains (城市众脑): each case closed at the lowest level that can close it, district brains
running their own loops and escalating what needs more, the city brain seeing everything; hot
spots raised from spikes of similar cases, proactive tasks (未诉先办), and sensor alarms turned into
cases."""
