#!/usr/bin/env python3
"""Golden fixture for the DARTS second-order (unrolled) architecture gradient.

    /work/venv-torch/bin/python Scripts/reference/make_architect_fixture.py

writes Tests/SearchTests/Fixtures/architect.json (schema in Scripts/reference/README.md) and
prints two consistency checks that are not stored: the same computation in float64, and the
exact hypergradient (autograd through the virtual step, float64) against the finite-difference
Hessian-vector product.

Deterministic: seeded, single-threaded, float32, train mode throughout.
"""

import copy
import json
import os
import sys

import torch
import torch.nn.functional as F
from torch.func import functional_call

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import darts_reference as ref  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "Tests", "SearchTests", "Fixtures", "architect.json")

SEED = 7007
CONFIG = dict(input_channels=3, image_size=8, C=4, layers=3, classes=10, batch=4, steps=4,
              K=1, edge_norm=False, reduction_cells=[1, 2])
LR, MOMENTUM, WEIGHT_DECAY = 0.025, 0.9, 3e-4


r9, enc = ref.round9, ref.encode_tensor


def batch(n, c, h, classes):
    return torch.randn(n, c, h, h), torch.randint(0, classes, (n,))


def exact_hypergradient(net, opt_bufs, x_t, y_t, x_v, y_v):
    """∇_α L_val(w'(α), α) with w'(α) = w − η(μ·buf + ∇_w L_train(w, α) + λw), by autograd
    (double backward). `net` is a float64 copy in train mode; buffers are copied per call."""
    names = [n for n, _ in net.named_parameters()]
    w = {n: p.detach() for n, p in net.named_parameters()}
    bufs = lambda: {n: b.clone() for n, b in net.named_buffers()}  # noqa: E731
    arch = [a.detach().clone().requires_grad_(True) for a in net.arch_parameters()]

    def loss(weights, x, y):
        net.alphas_normal, net.alphas_reduce = arch
        out = functional_call(net, ({**weights, **bufs()}), (x,))
        return F.cross_entropy(out, y)

    w_req = {n: t.clone().requires_grad_(True) for n, t in w.items()}
    lt = loss(w_req, x_t, y_t)
    g = torch.autograd.grad(lt, [w_req[n] for n in names], create_graph=True)
    w_prime = {n: w[n] - LR * (MOMENTUM * opt_bufs[n] + (gi + WEIGHT_DECAY * w[n]))
               for n, gi in zip(names, g)}
    lv = loss(w_prime, x_v, y_v)
    return torch.autograd.grad(lv, arch)


def to_float64(net, momentum):
    """Float64 copies of the network and an SGD optimiser with the same momentum buffers."""
    net64 = copy.deepcopy(net).double()
    net64.alphas_normal = net.alphas_normal.detach().double().requires_grad_(True)
    net64.alphas_reduce = net.alphas_reduce.detach().double().requires_grad_(True)
    opt64 = ref.make_weight_optimizer(net64, LR, MOMENTUM, WEIGHT_DECAY)
    for n, p64 in net64.named_parameters():
        opt64.state[p64]["momentum_buffer"] = momentum[n].double().clone()
    return net64, opt64


def main():
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    cfg = CONFIG
    # 1. The tiny search network and random α (drawn in the constructor: 1e-3·randn(14, 8)).
    net = ref.SearchNetwork(C=cfg["C"], layers=cfg["layers"], classes=cfg["classes"],
                            input_channels=cfg["input_channels"])
    net.train()
    assert [i for i, c in enumerate(net.cells) if c.reduction] == cfg["reduction_cells"]
    opt = ref.make_weight_optimizer(net, LR, MOMENTUM, WEIGHT_DECAY)

    # 2. One ordinary SGD step (no clipping) so that momentum buffers exist.
    x_a, y_a = batch(cfg["batch"], cfg["input_channels"], cfg["image_size"], cfg["classes"])
    ref.weight_step(net, opt, x_a, y_a, grad_clip=None)
    state = {n: t.detach().clone() for n, t in net.state_dict().items()}
    momentum = {n: opt.state[p]["momentum_buffer"].clone() for n, p in net.named_parameters()}

    # 3. New batches; first- and second-order α gradients at the recorded state.
    x_t, y_t = batch(cfg["batch"], cfg["input_channels"], cfg["image_size"], cfg["classes"])
    x_v, y_v = batch(cfg["batch"], cfg["input_channels"], cfg["image_size"], cfg["classes"])
    fresh = copy.deepcopy(net)
    net64, opt64 = to_float64(net, momentum)          # copies taken before any side effect
    exact_net = copy.deepcopy(net64)
    fresh_for_checks = copy.deepcopy(net)
    first = ref.first_order_alpha_grads(fresh, x_v, y_v)
    valid_loss_at_w = F.cross_entropy(copy.deepcopy(net)(x_v), y_v).item()
    info = {}
    second = ref.second_order_alpha_grads(net, x_t, y_t, x_v, y_v, LR, opt, MOMENTUM,
                                          WEIGHT_DECAY, info=info)

    fixture = {
        "torch_version": torch.__version__,
        "seed": SEED,
        "config": cfg,
        "lr": LR,
        "momentum": MOMENTUM,
        "weight_decay": WEIGHT_DECAY,
        "state": {n: enc(t) for n, t in state.items()},
        "momentum_buffers": {n: enc(t) for n, t in momentum.items()},
        "alphas_normal": enc(net.alphas_normal),
        "alphas_reduce": enc(net.alphas_reduce),
        "x_train": enc(x_t),
        "y_train": y_t.tolist(),
        "x_valid": enc(x_v),
        "y_valid": y_v.tolist(),
        "first_order": {"alphas_normal": enc(first[0]), "alphas_reduce": enc(first[1])},
        "second_order": {"alphas_normal": enc(second[0]), "alphas_reduce": enc(second[1])},
        "second_order_terms": {
            "dalpha_unrolled": {"alphas_normal": enc(info["dalpha_unrolled"][0]),
                                "alphas_reduce": enc(info["dalpha_unrolled"][1])},
            "hessian_vector": {"alphas_normal": enc(info["hessian_vector"][0]),
                               "alphas_reduce": enc(info["hessian_vector"][1])},
        },
        "losses": {"valid_at_w": r9(valid_loss_at_w), "train_at_w": r9(info["train_loss"]),
                   "valid_at_unrolled": r9(info["unrolled_valid_loss"])},
        "v_norm": r9(info["v_norm"]),
        "epsilon": r9(info["epsilon"]),
        "unrolled": {n: enc(info["unrolled"][n]) for n in ("stem.0.weight", "classifier.weight")},
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    text = json.dumps(fixture, separators=(",", ":"), allow_nan=False)
    with open(OUT, "w") as f:
        f.write(text + "\n")
    print(f"wrote {os.path.relpath(OUT, REPO)} ({len(text) + 1} bytes); "
          f"{sum(t.numel() for t in net.parameters())} weights, "
          f"{sum(b.numel() for b in net.buffers())} buffer values")

    # Checks (printed only).
    def maxabs(ts):
        return max(t.abs().max().item() for t in ts)

    def maxdiff(a, b):
        return max((x.double() - y.double()).abs().max().item() for x, y in zip(a, b))

    print(f"|first order|max  {maxabs(first):.3e}   |second order|max {maxabs(second):.3e}   "
          f"max|second − first| {maxdiff(second, first):.3e}")
    print(f"v_norm {info['v_norm']:.6g}  epsilon {info['epsilon']:.6g}  "
          f"losses: valid(w) {valid_loss_at_w:.6f} train(w) {info['train_loss']:.6f} "
          f"valid(w') {info['unrolled_valid_loss']:.6f}")
    second64 = ref.second_order_alpha_grads(net64, x_t.double(), y_t, x_v.double(), y_v, LR, opt64,
                                            MOMENTUM, WEIGHT_DECAY)
    print(f"float64 re-run of the same procedure: max|Δ| {maxdiff(second, second64):.3e}")
    bufs64 = {n: momentum[n].double() for n, _ in net64.named_parameters()}
    small_net, small_opt = to_float64(fresh_for_checks, momentum)
    small = ref.second_order_alpha_grads(small_net, x_t.double(), y_t, x_v.double(), y_v, LR,
                                         small_opt, MOMENTUM, WEIGHT_DECAY, eps_numerator=1e-6)
    exact = exact_hypergradient(exact_net, bufs64, x_t.double(), y_t, x_v.double(), y_v)
    print(f"exact hypergradient (float64 autograd) vs float64 finite difference with "
          f"ε = 1e-6/‖v‖: max|Δ| {maxdiff(small, exact):.3e}")
    print(f"exact hypergradient vs the reference ε = 0.01/‖v‖ (float32 fixture): "
          f"max|Δ| {maxdiff(second, exact):.3e} (finite-difference error of the reference method)")


if __name__ == "__main__":
    main()
