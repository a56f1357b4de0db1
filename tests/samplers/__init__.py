"""Tests of genjax/samplers/."""
