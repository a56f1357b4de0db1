"""Memoised strategy factories: one strategy object per distinct argument set.

``jax.jit`` caches compiled programs on static arguments by hash and equality. Strategy objects
(a ``Sampler``, a fixed-point ``Method``) hold closures, which compare by identity, so two calls
``ddim(0.5)`` would otherwise build two strategies and compile twice. Memoising the factory on
its bound arguments makes equal arguments give the identical object.
"""
from __future__ import annotations

import functools
import inspect
from typing import Callable


def memoized(factory: Callable) -> Callable:
    """Memoise ``factory`` on its bound arguments (defaults applied).

    ``ddim(0)``, ``ddim(0.0)`` and ``ddim(eta=0.0)`` give one object and one compiled program.
    ``True`` and ``1`` are kept apart (they hash alike), so a factory that rejects bools still
    sees them. Unhashable arguments bypass the cache (the factory's own validation then runs).
    """
    sig = inspect.signature(factory)
    cache = {}

    @functools.wraps(factory)
    def wrapper(*args, **kwargs):
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        key = tuple((name, value, isinstance(value, bool)) for name, value in bound.arguments.items())
        try:
            hash(key)
        except TypeError:
            return factory(*args, **kwargs)
        if key not in cache:
            cache[key] = factory(*args, **kwargs)
        return cache[key]

    return wrapper
