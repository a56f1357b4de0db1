"""Tests of genjax/data/."""
