"""Training: state, optimizer and EMA, the pure train step (one or several players), sharding, multi-host start.

``genjax.train.checkpoint`` (orbax) is imported on demand: ``from genjax.train import checkpoint``.
"""
from genjax.train import distributed, players, sharding
from genjax.train.state import (EMA, OPTIMIZERS, TrainState, ema_half_life, ema_rate, init_state,
                                learning_rate, optimizer)
from genjax.train.step import apply_gradients, ema_update, keep_if, train_step, with_batches

__all__ = ["EMA", "OPTIMIZERS", "TrainState", "apply_gradients", "distributed", "ema_half_life", "ema_rate",
           "ema_update", "init_state", "keep_if", "learning_rate", "optimizer", "players", "sharding", "train_step",
           "with_batches"]
