"""Dispatch (派单): which category or unit a citizen's message belongs to, learned from text."""
