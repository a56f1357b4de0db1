"""Tests of genjax/schedules/."""
