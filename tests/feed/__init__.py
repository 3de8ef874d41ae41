"""Tests of service/feed."""
