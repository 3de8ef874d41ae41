"""Mapping rounds (kartleggingsrunder): invite a list of organisations, follow their answers."""
