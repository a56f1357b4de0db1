"""Training: state, optimizer and EMA, the pure train step, data-parallel sharding, multi-host start.

``genjax.train.checkpoint`` (orbax) is imported on demand: ``from genjax.train import checkpoint``.
"""
from genjax.train import distributed, sharding
from genjax.train.state import (EMA, OPTIMIZERS, TrainState, ema_half_life, ema_rate, init_state,
                                learning_rate, optimizer)
from genjax.train.step import apply_gradients, train_step, with_batches

__all__ = ["EMA", "OPTIMIZERS", "TrainState", "apply_gradients", "distributed", "ema_half_life", "ema_rate",
           "init_state", "learning_rate", "optimizer", "sharding", "train_step", "with_batches"]
