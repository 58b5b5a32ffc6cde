"""Tests of custom entities: declarations, pushes, commits and reads."""
