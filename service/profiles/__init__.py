"""Participants: registration, their profile, and their data."""
