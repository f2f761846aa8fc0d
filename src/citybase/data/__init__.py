"""Data layer (数据层): the public data resource catalog, sharing, open data. Not built yet."""
