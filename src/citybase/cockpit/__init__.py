"""Plan supervision: the plans' indicators, targets and tasks. Not built yet."""
