"""citybase: an open digital base (数字底座) for a city."""

__version__ = "0.1.0"
