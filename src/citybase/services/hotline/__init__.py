"""The 12345 citizen service: Open311 GeoReport v2 for other systems, the citizen portal, and the
knowledge base of standard answers the operators give on the spot."""
