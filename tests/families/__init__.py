"""Tests of genjax/families/."""
