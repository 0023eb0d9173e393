#!/usr/bin/env python3
"""PyTorch reference networks and steps for the Swift DARTS / P-DARTS / PC-DARTS port.

Written from the project specification (SPEC.md §1, §2, §4, §5, §6.1); module and parameter
names follow the reference naming of SPEC §1.6 so that state dicts line up name for name with
the Swift `namedParameters()`.

As a module:

    import darts_reference as ref
    net = ref.SearchNetwork(C=16, layers=8, classes=10)          # DARTS supernet
    net = ref.SearchNetwork(K=4, edge_norm=True)                   # PC-DARTS
    net = ref.SearchNetwork(layers=5, normal_ops=..., reduce_ops=...)  # P-DARTS stage network
    ev  = ref.NetworkCIFAR(C=36, layers=20, genotype=ref.DARTS_V2, auxiliary=True)

As a command line tool:

    python darts_reference.py counts
    python darts_reference.py bench --what search1 --batch 64 --threads 2 --steps 3

`bench` prints one JSON line with the median step time on random data.
"""

import argparse
import copy
import json
import random
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRIMITIVES = [
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
]

# Genotypes as (normal pairs, reduce pairs); concat is always [2, 3, 4, 5] here.
DARTS_V2 = (
    [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
     ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
    [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
     ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)],
)

STEPS = 4          # intermediate nodes per cell
MULTIPLIER = 4     # nodes concatenated at the cell output
STEM_MULTIPLIER = 3


def edge_count(steps=STEPS):
    return sum(2 + i for i in range(steps))


# ------------------------------------------------------------------------------------------------
# Building blocks (SPEC §1.2). Attribute names give the reference parameter names.
# ------------------------------------------------------------------------------------------------


class ReLUConvBN(nn.Module):
    def __init__(self, c_in, c_out, k, stride, pad, affine):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, k, stride=stride, padding=pad, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x):
        return self.op(x)


class SepConv(nn.Module):
    """Two depthwise-separable blocks; only the first depthwise conv is strided."""

    def __init__(self, c_in, c_out, k, stride, pad, affine):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, k, stride=stride, padding=pad, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_in, 1, bias=False),
            nn.BatchNorm2d(c_in, affine=affine),
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, k, stride=1, padding=pad, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x):
        return self.op(x)


class DilConv(nn.Module):
    def __init__(self, c_in, c_out, k, stride, pad, dilation, affine):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, k, stride=stride, padding=pad, dilation=dilation, groups=c_in,
                      bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x):
        return self.op(x)


class FactorizedReduce(nn.Module):
    def __init__(self, c_in, c_out, affine):
        super().__init__()
        assert c_out % 2 == 0
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x):
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


class Identity(nn.Module):
    def forward(self, x):
        return x


class Zero(nn.Module):
    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


def make_op(name, C, stride, affine, search):
    """One primitive. `search=True`: pools followed by BN(affine=False) (SPEC §1.1)."""
    if name == "none":
        return Zero(stride)
    if name == "max_pool_3x3":
        pool = nn.MaxPool2d(3, stride=stride, padding=1)
        return nn.Sequential(pool, nn.BatchNorm2d(C, affine=False)) if search else pool
    if name == "avg_pool_3x3":
        pool = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
        return nn.Sequential(pool, nn.BatchNorm2d(C, affine=False)) if search else pool
    if name == "skip_connect":
        return Identity() if stride == 1 else FactorizedReduce(C, C, affine)
    if name == "sep_conv_3x3":
        return SepConv(C, C, 3, stride, 1, affine)
    if name == "sep_conv_5x5":
        return SepConv(C, C, 5, stride, 2, affine)
    if name == "dil_conv_3x3":
        return DilConv(C, C, 3, stride, 2, 2, affine)
    if name == "dil_conv_5x5":
        return DilConv(C, C, 5, stride, 4, 2, affine)
    raise ValueError(name)


def channel_shuffle(x, groups):
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous().view(n, c, h, w)


# ------------------------------------------------------------------------------------------------
# Search network (SPEC §1.3–1.6, §4.2–4.3, §5.1–5.2)
# ------------------------------------------------------------------------------------------------


class MixedOp(nn.Module):
    """Σ_o w_o·o(x) over the edge's primitives (`ops`: names in primitive order).

    K > 1: PC-DARTS partial channels — ops see the first C/K channels, the rest bypass them
    (max-pooled 2×2 on stride-2 edges), concat, channel shuffle with K groups.
    `skip_dropout`: P-DARTS — stride-1 skips become Sequential(Identity, Dropout(p)).
    """

    def __init__(self, C, stride, ops, K=1, skip_dropout=False):
        super().__init__()
        self.K = K
        self.stride = stride
        self.op_names = list(ops)
        self._ops = nn.ModuleList()
        for name in ops:
            op = make_op(name, C // K, stride, affine=False, search=True)
            if skip_dropout and name == "skip_connect" and stride == 1:
                op = nn.Sequential(op, nn.Dropout(p=0.0))
            self._ops.append(op)
        if K > 1:
            self.mp = nn.MaxPool2d(2, 2)

    def forward(self, x, weights):
        if self.K > 1:
            c = x.shape[1]
            xa, xb = x[:, : c // self.K], x[:, c // self.K:]
        else:
            xa = x
        out = None
        for w, name, op in zip(weights, self.op_names, self._ops):
            if name == "none":          # contributes exactly zero; its weight keeps softmax mass
                continue
            term = w * op(xa)
            out = term if out is None else out + term
        if out is None:                 # only `none` on this edge
            out = self._ops[0](xa)
        if self.K == 1:
            return out
        if out.shape[2] != x.shape[2]:
            xb = self.mp(xb)
        return channel_shuffle(torch.cat([out, xb], dim=1), self.K)


class SearchCell(nn.Module):
    def __init__(self, C_pp, C_p, C, reduction, reduction_prev, edge_ops, K=1, skip_dropout=False,
                 steps=STEPS):
        super().__init__()
        self.reduction = reduction
        self.steps = steps
        if reduction_prev:
            self.preprocess0 = FactorizedReduce(C_pp, C, affine=False)
        else:
            self.preprocess0 = ReLUConvBN(C_pp, C, 1, 1, 0, affine=False)
        self.preprocess1 = ReLUConvBN(C_p, C, 1, 1, 0, affine=False)
        self._ops = nn.ModuleList()
        self._bns = nn.ModuleList()     # empty, as in the reference (no state-dict entries)
        e = 0
        for i in range(steps):
            for j in range(2 + i):
                stride = 2 if reduction and j < 2 else 1
                self._ops.append(MixedOp(C, stride, edge_ops[e], K, skip_dropout))
                e += 1

    def forward(self, s0, s1, weights, edge_weights=None):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        offset = 0
        for _ in range(self.steps):
            s = None
            for j, h in enumerate(states):
                y = self._ops[offset + j](h, weights[offset + j])
                if edge_weights is not None:
                    y = edge_weights[offset + j] * y
                s = y if s is None else s + y
            offset += len(states)
            states.append(s)
        return torch.cat(states[-MULTIPLIER:], dim=1)


def normalized_betas(betas, steps=STEPS):
    """Softmax of β within each node's incoming-edge segment, concatenated (SPEC §5.2)."""
    parts, start = [], 0
    for i in range(steps):
        n = 2 + i
        parts.append(F.softmax(betas[start:start + n], dim=-1))
        start += n
    return torch.cat(parts)


class SearchNetwork(nn.Module):
    """The search supernet. α (and β) are plain tensors, not registered parameters.

    normal_ops / reduce_ops: per-edge lists of primitive names (P-DARTS switches); default all 8.
    """

    def __init__(self, C=16, layers=8, classes=10, input_channels=3, K=1, edge_norm=False,
                 normal_ops=None, reduce_ops=None, skip_dropout=False, steps=STEPS):
        super().__init__()
        E = edge_count(steps)
        self.normal_ops = normal_ops or [list(PRIMITIVES)] * E
        self.reduce_ops = reduce_ops or [list(PRIMITIVES)] * E
        self.K = K
        self.edge_norm = edge_norm
        self.config = dict(C=C, layers=layers, classes=classes, input_channels=input_channels, K=K,
                           edge_norm=edge_norm, skip_dropout=skip_dropout, steps=steps)
        c_curr = STEM_MULTIPLIER * C
        self.stem = nn.Sequential(
            nn.Conv2d(input_channels, c_curr, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_curr),
        )
        c_pp, c_p, c_curr = c_curr, c_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_curr *= 2
            ops = self.reduce_ops if reduction else self.normal_ops
            cell = SearchCell(c_pp, c_p, c_curr, reduction, reduction_prev, ops, K, skip_dropout,
                              steps)
            self.cells.append(cell)
            reduction_prev = reduction
            c_pp, c_p = c_p, MULTIPLIER * c_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, classes)
        self.alphas_normal = (1e-3 * torch.randn(E, len(self.normal_ops[0]))).requires_grad_(True)
        self.alphas_reduce = (1e-3 * torch.randn(E, len(self.reduce_ops[0]))).requires_grad_(True)
        if edge_norm:
            self.betas_normal = (1e-3 * torch.randn(E)).requires_grad_(True)
            self.betas_reduce = (1e-3 * torch.randn(E)).requires_grad_(True)

    def arch_parameters(self):
        a = [self.alphas_normal, self.alphas_reduce]
        if self.edge_norm:
            a += [self.betas_normal, self.betas_reduce]
        return a

    def set_skip_dropout(self, p):
        for m in self.modules():
            if isinstance(m, nn.Dropout):
                m.p = p

    def forward(self, x):
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            if cell.reduction:
                w = F.softmax(self.alphas_reduce, dim=-1)
                ew = normalized_betas(self.betas_reduce) if self.edge_norm else None
            else:
                w = F.softmax(self.alphas_normal, dim=-1)
                ew = normalized_betas(self.betas_normal) if self.edge_norm else None
            s0, s1 = s1, cell(s0, s1, w, ew)
        out = self.global_pooling(s1)
        return self.classifier(out.view(out.size(0), -1))


def count_parameters(model, exclude="auxiliary"):
    return sum(p.numel() for n, p in model.named_parameters() if exclude not in n)


def pdarts_switches(seed=0, stage=2, rule="random"):
    """Per-edge op subsets for P-DARTS stage 2 (5 ops) or 3 (3 ops): drop 3 (then 2 more) ops
    of each edge at random with a fixed seed, normal and reduce independently. With
    rule="cyclic", edge e keeps the primitives (e + o + j) mod 8, j < n, in primitive order,
    with o = 0 for the normal and 4 for the reduction cell (the subsets `darts bench search
    --method p-darts` uses, so that both engines time the same networks)."""
    E = edge_count()
    if rule == "cyclic":
        n = 5 if stage == 2 else 3
        return tuple([[PRIMITIVES[i] for i in sorted((e + o + j) % len(PRIMITIVES) for j in range(n))]
                      for e in range(E)] for o in (0, 4))
    rng = random.Random(seed)
    result = []
    for _ in range(2):                       # normal, reduce
        edges = []
        for _ in range(E):
            kept = list(PRIMITIVES)
            for drop in ([3] if stage == 2 else [3, 2]):
                for name in rng.sample(kept, drop):
                    kept.remove(name)
            edges.append(kept)              # primitive order preserved
        result.append(edges)
    return result[0], result[1]


# ------------------------------------------------------------------------------------------------
# Evaluation network (SPEC §6.1)
# ------------------------------------------------------------------------------------------------


def drop_path(x, drop_prob):
    if drop_prob > 0.0:
        keep = 1.0 - drop_prob
        mask = torch.empty(x.size(0), 1, 1, 1, dtype=x.dtype).bernoulli_(keep)
        x = x.div(keep) * mask
    return x


class EvalCell(nn.Module):
    def __init__(self, genotype_pairs, C_pp, C_p, C, reduction, reduction_prev,
                 concat=(2, 3, 4, 5)):
        super().__init__()
        self.reduction = reduction
        if reduction_prev:
            self.preprocess0 = FactorizedReduce(C_pp, C, affine=True)
        else:
            self.preprocess0 = ReLUConvBN(C_pp, C, 1, 1, 0, affine=True)
        self.preprocess1 = ReLUConvBN(C_p, C, 1, 1, 0, affine=True)
        self.concat = list(concat)
        self.steps = len(genotype_pairs) // 2
        self.indices = [idx for _, idx in genotype_pairs]
        self._ops = nn.ModuleList()
        for name, idx in genotype_pairs:
            stride = 2 if reduction and idx < 2 else 1
            self._ops.append(make_op(name, C, stride, affine=True, search=False))

    def forward(self, s0, s1, drop_prob):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(self.steps):
            op1, op2 = self._ops[2 * i], self._ops[2 * i + 1]
            h1 = op1(states[self.indices[2 * i]])
            h2 = op2(states[self.indices[2 * i + 1]])
            if self.training and drop_prob > 0.0:
                if not isinstance(op1, Identity):
                    h1 = drop_path(h1, drop_prob)
                if not isinstance(op2, Identity):
                    h2 = drop_path(h2, drop_prob)
            states.append(h1 + h2)
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuxiliaryHeadCIFAR(nn.Module):
    def __init__(self, C, classes):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=False),
        )
        self.classifier = nn.Linear(768, classes)

    def forward(self, x):
        x = self.features(x)
        return self.classifier(x.view(x.size(0), -1))


class NetworkCIFAR(nn.Module):
    def __init__(self, C=36, classes=10, layers=20, genotype=DARTS_V2, auxiliary=True,
                 input_channels=3):
        super().__init__()
        self.drop_path_prob = 0.0
        self._aux_pos = 2 * layers // 3
        c_curr = STEM_MULTIPLIER * C
        self.stem = nn.Sequential(
            nn.Conv2d(input_channels, c_curr, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_curr),
        )
        c_pp, c_p, c_curr = c_curr, c_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        c_aux = None
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_curr *= 2
            pairs = genotype[1] if reduction else genotype[0]
            cell = EvalCell(pairs, c_pp, c_p, c_curr, reduction, reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            c_pp, c_p = c_p, MULTIPLIER * c_curr
            if i == self._aux_pos:
                c_aux = c_p
        if auxiliary:
            self.auxiliary_head = AuxiliaryHeadCIFAR(c_aux, classes)
        self.auxiliary = auxiliary
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, classes)

    def forward(self, x):
        logits_aux = None
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self._aux_pos and self.auxiliary and self.training:
                logits_aux = self.auxiliary_head(s1)
        out = self.global_pooling(s1)
        return self.classifier(out.view(out.size(0), -1)), logits_aux


# ------------------------------------------------------------------------------------------------
# Steps (SPEC §2.3–2.6, §4.4, §6.1)
# ------------------------------------------------------------------------------------------------


def make_weight_optimizer(model, lr=0.025, momentum=0.9, weight_decay=3e-4):
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                           weight_decay=weight_decay, foreach=False)


def make_arch_optimizer(model, lr=3e-4, weight_decay=1e-3):
    return torch.optim.Adam(model.arch_parameters(), lr=lr, betas=(0.5, 0.999),
                            weight_decay=weight_decay, foreach=False)


def first_order_alpha_grads(model, x_v, y_v):
    """∇_α L_val(w, α) (SPEC §2.4); weight gradients are not accumulated."""
    loss = F.cross_entropy(model(x_v), y_v)
    return list(torch.autograd.grad(loss, model.arch_parameters()))


def second_order_alpha_grads(model, x_t, y_t, x_v, y_v, eta, w_optimizer, momentum=0.9,
                             weight_decay=3e-4, info=None, eps_numerator=0.01):
    """The unrolled α gradient of SPEC §2.5, in the reference order of operations.

    Side effects as in the reference: BN running statistics of `model` are updated by the three
    forwards on x_t; the weights are perturbed to w+εv, w−εv and back in place (so they may come
    back with float rounding). `eps_numerator` is the reference 0.01 (ε = 0.01/‖v‖); other values
    are for checking the finite difference only. `info` (a dict), if given, receives the losses, ∇_α L_val(w'), the Hessian-vector term
    (g⁺ − g⁻)/(2ε), v_norm, epsilon and the unrolled weights w' by name.
    """
    params = list(model.parameters())
    # Virtual step: w' = w − η·(μ·buf + (g + λw)).
    loss = F.cross_entropy(model(x_t), y_t)
    grads = torch.autograd.grad(loss, params)
    with torch.no_grad():
        bufs = [w_optimizer.state.get(p, {}).get("momentum_buffer") for p in params]
        has_momentum = all(b is not None for b in bufs)
        w_prime = []
        for p, g, b in zip(params, grads, bufs):
            moment = b.mul(momentum) if has_momentum else torch.zeros_like(p)
            dtheta = g + weight_decay * p
            w_prime.append(p.sub(moment + dtheta, alpha=eta))
    # Copy of the network at w' (BN running buffers and α copied too).
    unrolled = copy.deepcopy(model)
    with torch.no_grad():
        for q, wp in zip(unrolled.parameters(), w_prime):
            q.copy_(wp)
    for a, b in zip(unrolled.arch_parameters(), model.arch_parameters()):
        with torch.no_grad():
            a.copy_(b)
    u_params = list(unrolled.parameters())
    u_arch = unrolled.arch_parameters()
    u_loss = F.cross_entropy(unrolled(x_v), y_v)
    g_all = torch.autograd.grad(u_loss, u_arch + u_params)
    dalpha = list(g_all[: len(u_arch)])
    vector = list(g_all[len(u_arch):])
    # Finite-difference Hessian-vector product on the training batch at w.
    v_norm = torch.cat([v.reshape(-1) for v in vector]).norm().item()
    R = eps_numerator / v_norm              # a Python (double) scalar, as in the reference
    arch = model.arch_parameters()
    with torch.no_grad():
        for p, v in zip(params, vector):
            p.add_(v, alpha=R)
    grads_p = torch.autograd.grad(F.cross_entropy(model(x_t), y_t), arch)
    with torch.no_grad():
        for p, v in zip(params, vector):
            p.sub_(v, alpha=2 * R)
    grads_n = torch.autograd.grad(F.cross_entropy(model(x_t), y_t), arch)
    with torch.no_grad():
        for p, v in zip(params, vector):
            p.add_(v, alpha=R)
    result, implicits = [], []
    for d, gp, gn in zip(dalpha, grads_p, grads_n):
        implicit = (gp - gn).div(2 * R)
        implicits.append(implicit)
        result.append(d.sub(implicit, alpha=eta))
    if info is not None:
        info["train_loss"] = loss.item()
        info["unrolled_valid_loss"] = u_loss.item()
        info["dalpha_unrolled"] = dalpha
        info["hessian_vector"] = implicits
        info["v_norm"] = v_norm
        info["epsilon"] = R
        info["unrolled"] = dict(zip([n for n, _ in unrolled.named_parameters()], w_prime))
    return result


def weight_step(model, w_optimizer, x_t, y_t, grad_clip=5.0):
    w_optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x_t), y_t)
    loss.backward(inputs=list(model.parameters()))
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    w_optimizer.step()
    return loss.detach()


def search_step(model, w_optimizer, a_optimizer, x_t, y_t, x_v, y_v, order=1, eta=0.025,
                alpha_clip=None):
    """One search iteration (SPEC §2.3): α step, then weight step."""
    model.train()
    arch = model.arch_parameters()
    if order == 1:
        grads = first_order_alpha_grads(model, x_v, y_v)
    else:
        grads = second_order_alpha_grads(model, x_t, y_t, x_v, y_v, eta, w_optimizer)
    for a, g in zip(arch, grads):
        a.grad = g
    if alpha_clip is not None:       # P-DARTS clips α gradients (SPEC §4.1)
        nn.utils.clip_grad_norm_(arch, alpha_clip)
    a_optimizer.step()
    return weight_step(model, w_optimizer, x_t, y_t)


def train_step(model, optimizer, x, y, aux_weight=0.4, grad_clip=5.0):
    """One DARTS evaluation-training step (SPEC §6.1)."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    logits, logits_aux = model(x)
    loss = F.cross_entropy(logits, y)
    if logits_aux is not None:
        loss = loss + aux_weight * F.cross_entropy(logits_aux, y)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.detach()


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------


def cmd_counts(_args):
    torch.manual_seed(0)
    rows = [
        ("DARTS search C=16 L=8", count_parameters(SearchNetwork()), 1930618),
        ("PC-DARTS search K=4", count_parameters(SearchNetwork(K=4, edge_norm=True)), 299578),
        ("P-DARTS stage 1 L=5", count_parameters(SearchNetwork(layers=5)), 1275834),
        ("DARTS_V2 eval C=36 L=20", count_parameters(NetworkCIFAR(auxiliary=True)), 3349342),
    ]
    ok = True
    for name, got, want in rows:
        print(f"{name:28s} {got:>9,d}  expected {want:>9,d}  {'ok' if got == want else 'MISMATCH'}")
        ok &= got == want
    net = SearchNetwork()
    names = dict(net.named_parameters())
    print("cells.2._ops.0._ops.4.op.1.weight", tuple(names["cells.2._ops.0._ops.4.op.1.weight"].shape))
    return 0 if ok else 1


def cmd_bench(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    what, B = args.what, args.batch
    gen = torch.Generator().manual_seed(1)

    def batch():
        return (torch.randn(B, 3, 32, 32, generator=gen),
                torch.randint(0, 10, (B,), generator=gen))

    if what == "train":
        model = NetworkCIFAR(C=36, layers=20, genotype=DARTS_V2, auxiliary=True)
        model.drop_path_prob = 0.2 * 0.5          # 0.2·e/E at e = E/2
        opt = make_weight_optimizer(model)

        def step():
            x, y = batch()
            train_step(model, opt, x, y)
    else:
        order, eta, alpha_clip = 1, 0.025, None
        a_lr, w_lr = 3e-4, 0.025
        if what in ("search1", "search2"):
            model = SearchNetwork()
            order = 2 if what == "search2" else 1
        elif what == "pcdarts":
            model = SearchNetwork(K=4, edge_norm=True)
            a_lr, w_lr = 6e-4, 0.1
        elif what.startswith("pdarts-stage"):
            stage = int(what[-1])
            layers = {1: 5, 2: 11, 3: 17}[stage]
            rate = {1: 0.1, 2: 0.4, 3: 0.7}[stage]
            if stage == 1:
                normal_ops = reduce_ops = None
            else:
                normal_ops, reduce_ops = pdarts_switches(seed=0, stage=stage, rule=args.switches)
            model = SearchNetwork(layers=layers, normal_ops=normal_ops, reduce_ops=reduce_ops,
                                  skip_dropout=True)
            model.set_skip_dropout(rate)
            a_lr, alpha_clip = 6e-4, 5.0
        else:
            raise SystemExit(f"unknown --what {what}")
        w_opt = make_weight_optimizer(model, lr=w_lr)
        a_opt = make_arch_optimizer(model, lr=a_lr)

        def step():
            x_t, y_t = batch()
            x_v, y_v = batch()
            search_step(model, w_opt, a_opt, x_t, y_t, x_v, y_v, order=order, eta=w_lr,
                        alpha_clip=alpha_clip)

    times = []
    for i in range(args.steps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        if i > 0:                                  # first step is the warm-up
            times.append(dt)
        print(f"# step {i} {'(warm-up) ' if i == 0 else ''}{dt * 1e3:.0f} ms wall, "
              f"{cpu * 1e3:.0f} ms cpu", file=sys.stderr)
    med = statistics.median(times)
    print(json.dumps({
        "what": what,
        "batch": B,
        "threads": args.threads,
        "median_ms": round(med * 1e3, 1),
        "min_ms": round(min(times) * 1e3, 1),
        "steps_ms": [round(t * 1e3, 1) for t in times],
        "images_per_s": round(B / med, 2),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "torch_version": torch.__version__,
    }))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("counts", help="print parameter counts against SPEC §1.6")
    b = sub.add_parser("bench", help="time search / training steps on random data")
    b.add_argument("--what", required=True,
                   choices=["search1", "search2", "pcdarts", "pdarts-stage1", "pdarts-stage2",
                            "pdarts-stage3", "train"])
    b.add_argument("--batch", type=int, default=64)
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--steps", type=int, default=3)
    b.add_argument("--switches", choices=["random", "cyclic"], default="random",
                   help="P-DARTS stage 2/3 op subsets (see pdarts_switches)")
    args = ap.parse_args(argv)
    return {"counts": cmd_counts, "bench": cmd_bench}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
