"""Tests of service/followup."""
