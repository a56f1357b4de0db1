"""Tests of genjax/integrators/."""
