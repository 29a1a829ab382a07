"""The reference network (DESIGN.md) written in the peer libraries, for side-by-side timing.

Input 28x28x1, T steps, direct encoding: Conv3x3(32) -> LIF -> AvgPool2 -> Conv3x3(64) -> LIF
-> AvgPool2 -> Flatten -> Dense(128) -> LIF -> Dense(10); logits = mean over time. LIF beta 0.9
(tau 10 for SpikingJelly), threshold 1, soft reset, arctan surrogate. Each library is used the
way its tutorials recommend: snnTorch steps its `Leaky` neurons in a Python loop over time;
SpikingJelly runs multi-step (`step_mode="m"`) layers on the whole ``(T, batch, ...)`` tensor.
"""

import torch
from torch import nn


class SnnTorchNet(nn.Module):
    def __init__(self, timesteps):
        import snntorch as snn
        from snntorch import surrogate

        super().__init__()
        self.timesteps = timesteps
        lif = lambda: snn.Leaky(beta=0.9, spike_grad=surrogate.atan(),
                                reset_mechanism="subtract")
        self.c1, self.l1 = nn.Conv2d(1, 32, 3, padding=1), lif()
        self.c2, self.l2 = nn.Conv2d(32, 64, 3, padding=1), lif()
        self.f1, self.l3 = nn.Linear(64 * 7 * 7, 128), lif()
        self.f2 = nn.Linear(128, 10)

    def forward(self, x):
        m1, m2, m3 = self.l1.reset_mem(), self.l2.reset_mem(), self.l3.reset_mem()
        out = 0
        for _ in range(self.timesteps):
            s1, m1 = self.l1(self.c1(x), m1)
            s2, m2 = self.l2(self.c2(nn.functional.avg_pool2d(s1, 2)), m2)
            s3, m3 = self.l3(self.f1(nn.functional.avg_pool2d(s2, 2).flatten(1)), m3)
            out = out + self.f2(s3)
        return out / self.timesteps


class SpikingJellyNet(nn.Module):
    def __init__(self, timesteps):
        from spikingjelly.activation_based import functional, layer, neuron, surrogate

        super().__init__()
        self.timesteps = timesteps
        self._reset = functional.reset_net
        lif = lambda: neuron.LIFNode(tau=10.0, decay_input=False, v_reset=None,
                                     surrogate_function=surrogate.ATan())
        self.net = nn.Sequential(
            layer.Conv2d(1, 32, 3, padding=1), lif(), layer.AvgPool2d(2),
            layer.Conv2d(32, 64, 3, padding=1), lif(), layer.AvgPool2d(2), layer.Flatten(),
            layer.Linear(64 * 7 * 7, 128), lif(), layer.Linear(128, 10))
        functional.set_step_mode(self.net, "m")

    def forward(self, x):
        self._reset(self.net)
        xs = x.unsqueeze(0).repeat(self.timesteps, 1, 1, 1, 1)
        return self.net(xs).mean(0)


PEERS = {"snntorch": SnnTorchNet, "spikingjelly": SpikingJellyNet}


def autocast(precision):
    """The context a PyTorch user computes ``precision`` in: ``"float32"`` or
    ``"mixed_bfloat16"`` (`torch.autocast` to bfloat16, weights staying float32, as
    Keras's policy of that name does)."""
    if precision not in ("float32", "mixed_bfloat16"):
        raise ValueError(f"precision must be 'float32' or 'mixed_bfloat16', got {precision!r}")
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "mixed_bfloat16")


def train_step_fn(name, timesteps, batch, seed=0, precision="float32"):
    """A zero-argument callable doing one Adam training step of a peer on a fixed batch,
    its forward pass and loss under `autocast` of ``precision``."""
    torch.manual_seed(seed)
    model = PEERS[name](timesteps)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.rand(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))

    def step():
        optimizer.zero_grad()
        with autocast(precision):
            loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()

    return step
