"""Passwordless sign-in: single-use email tokens and signed session cookies."""
