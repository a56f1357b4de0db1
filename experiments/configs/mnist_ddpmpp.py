r"""DDPM++ (VP SDE, eps prediction) on MNIST with the score_sde optimisation settings.

Command (tfds must have mnist prepared in its data_dir; nothing downloads at run time):
    python -m experiments.train --config experiments/configs/mnist_ddpmpp.py --workdir runs/mnist_ddpmpp
    python -m experiments.train --config experiments/configs/mnist_ddpmpp.py --workdir runs/mnist_ddpmpp --mode eval

Hardware: one GPU (a few hours for 200k steps of batch 128) or a TPU host.

Network: ``genjax.nets.SongUNet`` as DDPM++ scaled down to 28 -> 14 -> 7 (model_channels 64,
channel_mult (1, 2, 2), 2 blocks, attention at 14x14): 6,987,585 parameters.

Expected result: sharp, recognisable digits from 1000 Euler-Maruyama steps; eval bits/dim of the
dequantized test digits under the probability-flow ODE. score_sde publishes no MNIST numbers:
the network is scaled down and the run shortened; the optimiser, schedule, EMA and sampler follow
score_sde's DDPM++ cont. (VP) CIFAR-10 configuration. No horizontal flip (digits are not
mirror-symmetric).

References: Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential
Equations"; Ho et al. 2020, "Denoising Diffusion Probabilistic Models".
"""
from experiments.configs import cifar10_ddpmpp, common


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = cifar10_ddpmpp.get_config(None)
    c.model.net_kwargs.update(dict(img_resolution=28, in_channels=1, out_channels=1, model_channels=64,
                                   channel_mult=(1, 2, 2), num_blocks=2, attn_resolutions=(14,)))
    c.data.name = "mnist"
    c.data.random_flip = False
    c.training.num_steps = 200_000
    c.training.sample_every = 20_000
    if arg == "runlocal":
        cifar10_ddpmpp.runlocal_net(c)
    return c
