"""Tests of service/matches."""
