"""Tests of the matching domain (encoders, vectors, retrieval, ranker, suggestions)."""
