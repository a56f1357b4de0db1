"""Tests of genjax/metrics/."""
