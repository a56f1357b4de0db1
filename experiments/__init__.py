"""Experiments on top of genjax: the one trainer (``experiments.train``), its task builders
(``experiments.tasks``), configs (``experiments/configs``) and paper figure scripts
(``experiments/papers``). Only this side reads ml_collections ConfigDicts."""
