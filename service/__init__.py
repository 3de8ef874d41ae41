"""Koble: the matching service of the Gjøvik region."""

__version__ = "0.1.0"
