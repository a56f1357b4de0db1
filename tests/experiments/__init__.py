"""Tests of experiments/: the one trainer, its configs, tasks and figure scripts."""
