"""Config identity (genjax/train/identity.py): diff, classification of changes, replay of recorded changes."""
from genjax.train import identity


POLICY = identity.Policy(free=("log.*",), tunable=("optim.lr", "steps"), zero_is_structural=("optim.clip",))


def test_diff_and_classify():
    old = {"log": {"every": 10}, "optim": {"lr": 1e-3, "clip": 1.0}, "steps": 5, "net": {"features": [64, 64]}}
    new = {"log": {"every": 20}, "optim": {"lr": 1e-4, "clip": 0.0}, "steps": 5, "net": {"features": (64, 64)},
           "extra": 1}
    changes = identity.diff(old, new)
    assert changes == {"log.every": (10, 20), "optim.lr": (1e-3, 1e-4), "optim.clip": (1.0, 0.0),
                       "extra": (identity.MISSING, 1)}  # lists and tuples compare equal (JSON round trip)
    assert identity.classify(changes, POLICY) == {"free": ["log.every"], "tunable": ["optim.lr"],
                                                  "fixed": ["extra", "optim.clip"]}  # sorted
    assert identity.classify({"optim.clip": (1.0, 2.0)}, POLICY)["tunable"] == ["optim.clip"]
    assert "config.optim.lr: 0.001 -> 0.0001" in identity.format_changes(changes)


def test_effective_replays_recorded_changes():
    first = {"optim": {"lr": 1.0}, "steps": 5}
    rows = [{"changes": {"optim.lr": [1.0, 2.0]}}, {"changes": {"steps": [5, 9], "optim.lr": [2.0, 3.0]}}]
    assert identity.effective(first, rows) == {"optim": {"lr": 3.0}, "steps": 9}
    assert first == {"optim": {"lr": 1.0}, "steps": 5}  # not modified
