"""The yearly assessment of units (年度考核): each unit scored on its tasks, its indicators and
its monthly updates, by the weighting the bureau sets for the year."""
