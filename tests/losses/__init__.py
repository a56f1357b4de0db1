"""Tests of genjax/losses/."""
