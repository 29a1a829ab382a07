"""PyTorch implementations of the keras_snnkd.backend functions."""

import torch
from keras import ops


def value_and_grad(fn, args):
    args = [ops.convert_to_tensor(a).detach().requires_grad_(True) for a in args]
    value = fn(*args)
    grads = torch.autograd.grad(value, args)
    return value.detach().cpu().numpy(), [g.cpu().numpy() for g in grads]
