"""Tests of notebooks/: each notebook runs end to end with its quick settings."""
