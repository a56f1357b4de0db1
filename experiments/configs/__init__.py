"""Experiment configs: one ``get_config(arg)`` file per experiment (``common.py`` holds the defaults)."""
