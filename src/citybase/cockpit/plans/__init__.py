"""Plans (规划): the documents themselves, loaded from YAML, and their goals."""
