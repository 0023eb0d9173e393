#!/usr/bin/env python3
"""Golden fixture for the PC-DARTS supernet (partial channels K = 4 with edge normalisation).

    /work/venv-torch/bin/python Scripts/reference/make_partial_channel_fixture.py

writes Tests/SearchTests/Fixtures/partial_channels.json: the weights, α and β of a tiny
supernet (C = 8, 3 cells of which 2 reduce, 8×8 inputs), one batch, and what the reference
computes from them in train mode: the logits, the loss, the gradients of the loss with respect
to α and β, and the weight gradients of a few parameters on both paths of a partial-channel
edge (an operation on the active channels, and the preprocessing that feeds the bypass).

α and β are drawn with a spread (0.5·randn) rather than the reference 1e-3·randn, so that the
operation and edge weights differ enough for a wrongly weighted or wrongly routed term to show.
Deterministic: seeded, single-threaded, float32.
"""

import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import darts_reference as ref  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "Tests", "SearchTests", "Fixtures", "partial_channels.json")

SEED = 4004
CONFIG = dict(input_channels=3, image_size=8, C=8, layers=3, classes=10, batch=4, K=4, edge_norm=True)
WEIGHT_GRADIENTS = [
    "stem.0.weight",
    "cells.0.preprocess0.op.1.weight",
    "cells.1.preprocess1.op.1.weight",
    "cells.1._ops.0._ops.4.op.1.weight",   # sep_conv_3x3 on a stride-2 edge of a reduction cell
    "cells.2._ops.9._ops.7.op.1.weight",   # dil_conv_5x5 on an edge from node 2
    "classifier.weight",
]


def main():
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    cfg = CONFIG
    net = ref.SearchNetwork(C=cfg["C"], layers=cfg["layers"], classes=cfg["classes"],
                            input_channels=cfg["input_channels"], K=cfg["K"], edge_norm=cfg["edge_norm"])
    net.train()
    with torch.no_grad():
        for a in net.arch_parameters():
            a.copy_(0.5 * torch.randn_like(a))
    x = torch.randn(cfg["batch"], cfg["input_channels"], cfg["image_size"], cfg["image_size"])
    y = torch.randint(0, cfg["classes"], (cfg["batch"],))
    state = {n: t.detach().clone() for n, t in net.state_dict().items()}
    logits = net(x)
    loss = F.cross_entropy(logits, y)
    params = dict(net.named_parameters())
    wrt = net.arch_parameters() + [params[n] for n in WEIGHT_GRADIENTS]
    grads = torch.autograd.grad(loss, wrt)
    arch_names = ["alphas_normal", "alphas_reduce", "betas_normal", "betas_reduce"]
    fixture = {
        "torch_version": torch.__version__,
        "seed": SEED,
        "config": cfg,
        "state": {n: ref.encode_tensor(t) for n, t in state.items()},
        "architecture": {n: ref.encode_tensor(a) for n, a in zip(arch_names, net.arch_parameters())},
        "x": ref.encode_tensor(x),
        "y": y.tolist(),
        "logits": ref.encode_tensor(logits),
        "loss": ref.round9(loss.item()),
        "architecture_gradients": {n: ref.encode_tensor(g) for n, g in zip(arch_names, grads[:4])},
        "weight_gradients": {n: ref.encode_tensor(g) for n, g in zip(WEIGHT_GRADIENTS, grads[4:])},
    }
    text = json.dumps(fixture, separators=(",", ":"), allow_nan=False)
    with open(OUT, "w") as f:
        f.write(text + "\n")
    print(f"wrote {os.path.relpath(OUT, REPO)} ({len(text) + 1} bytes); loss {loss.item():.6f}; "
          f"{sum(t.numel() for t in net.parameters())} weights")


if __name__ == "__main__":
    main()
