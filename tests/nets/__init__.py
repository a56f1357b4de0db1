"""Tests of genjax/nets/."""
