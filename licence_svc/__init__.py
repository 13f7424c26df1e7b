"""Electronic licence platform (电子证照)."""

__version__ = "0.1.0"
