"""Tests of genjax/families/flows/."""
