"""Application layer (应用层): the 12345 citizen service and one-thing packages. Not built yet."""
