"""Train the digits classifier behind ``genjax.metrics.digits_fd`` and write its weights.

    python experiments/tools/train_digits_classifier.py            # -> genjax/metrics/digits_classifier.npz

Data: ``genjax.data.digits.load("train")`` (the fixed seed-0 split: 1438 images; the 359 test images
are only used for the reported accuracy), in the trainer's model space 2 (k + 1/2) / 17 - 1.
Training: Adam (lr 1e-3, cosine decay), weight decay 1e-4, batch 64, ``--epochs`` epochs (60), each
batch shifted by a random -1..1 pixels in x and y (zero padding in model space = -1), seed 0.
Prints the train / test accuracy and the digits Frechet distances that docs/readme/metrics.md quotes:
FD(train, test), FD(train, noisy test) (Gaussian noise of std 0.3 and 0.5, clipped to [-1, 1]),
FD(train, blurred test) (3x3 box blur) and FD(train, uniform noise). A CPU takes about a minute.
"""
import argparse
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from genjax.data import digits as digits_data  # noqa: E402
from genjax.metrics import digits  # noqa: E402


def shift(x, key):
    """Shift each image by (dy, dx) in {-1, 0, 1}^2, filling with the background value -1."""
    pad = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-1.0)
    d = jax.random.randint(key, (x.shape[0], 2), 0, 3)
    return jax.vmap(lambda im, o: jax.lax.dynamic_slice(im, (o[0], o[1], 0), (8, 8, 1)))(pad, d)


def noisy(x, std, key):
    return jnp.clip(x + std * jax.random.normal(key, x.shape), -1.0, 1.0)


def blur(x):
    """3x3 box blur with edge replication."""
    pad = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    return sum(pad[:, i:i + 8, j:j + 8] for i in range(3) for j in range(3)) / 9.0


def train(epochs: int, seed: int = 0):
    images, labels = digits_data.load("train")
    x, y = jnp.asarray(digits.to_model_space(images)), jnp.asarray(labels)
    net = digits.Classifier()
    key = jax.random.key(seed)
    params = net.init(key, x[:1])["params"]
    steps_per_epoch = len(x) // 64
    tx = optax.adamw(optax.cosine_decay_schedule(1e-3, epochs * steps_per_epoch), weight_decay=1e-4)
    opt = tx.init(params)

    @jax.jit
    def step(params, opt, xb, yb, k):
        def loss(p):
            _, lg = net.apply({"params": p}, shift(xb, k))
            return optax.softmax_cross_entropy_with_integer_labels(lg, yb).mean()
        val, g = jax.value_and_grad(loss)(params)
        upd, opt = tx.update(g, opt, params)
        return optax.apply_updates(params, upd), opt, val

    for epoch in range(epochs):
        perm = jax.random.permutation(jax.random.fold_in(key, 2 * epoch), len(x))
        for i in range(steps_per_epoch):
            idx = perm[i * 64:(i + 1) * 64]
            params, opt, val = step(params, opt, x[idx], y[idx], jax.random.fold_in(key, 2 * epoch + 1 + 10**6 * i))
    return params


def report(params) -> dict:
    test = jnp.asarray(digits.to_model_space(digits_data.load("test")[0]))
    train_imgs = jnp.asarray(digits.to_model_space(digits_data.load("train")[0]))
    mu, sigma = digits.fid.statistics(digits.features_and_logits(train_imgs, params)[0])

    def fd(z):
        m, s = digits.fid.statistics(digits.features_and_logits(z, params)[0])
        return digits.fid.frechet_distance(m, s, mu, sigma)

    k = jax.random.key(1)
    return {"train_accuracy": digits.accuracy(params, "train"), "test_accuracy": digits.accuracy(params, "test"),
            "fd_train_test": fd(test), "fd_train_noisy_0.5": fd(noisy(test, 0.5, k)),
            "fd_train_noisy_0.3": fd(noisy(test, 0.3, k)), "fd_train_blur3x3": fd(blur(test)),
            "fd_train_uniform_noise": fd(jax.random.uniform(k, test.shape, minval=-1.0, maxval=1.0))}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--out", default=digits.WEIGHTS)
    a = p.parse_args()
    params = train(a.epochs)
    np.savez(a.out, **digits.flatten_params(params))
    print(json.dumps({"weights": a.out, "bytes": os.path.getsize(a.out), **report(params)}, indent=2))


if __name__ == "__main__":
    main()
