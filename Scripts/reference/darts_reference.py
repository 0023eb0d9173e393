#!/usr/bin/env python3
"""PyTorch reference networks and steps for the Swift DARTS / P-DARTS / PC-DARTS port.

Written from the project specification (SPEC.md §1, §2, §3.3, §4, §5, §6.1, §6.2); module and parameter
names follow the reference naming of SPEC §1.6 so that state dicts line up name for name with
the Swift `namedParameters()`.

As a module:

    import darts_reference as ref
    net = ref.SearchNetwork(C=16, layers=8, classes=10)          # DARTS supernet
    net = ref.SearchNetwork(K=4, edge_norm=True)                   # PC-DARTS
    net = ref.SearchNetwork(layers=5, normal_ops=..., reduce_ops=...)  # P-DARTS stage network
    ev  = ref.NetworkCIFAR(C=36, layers=20, genotype=ref.DARTS_V2, auxiliary=True)
    im  = ref.NetworkImageNet(C=48, layers=14, genotype=ref.PDARTS, bn768=True)

As a command line tool:

    python darts_reference.py counts
    python darts_reference.py eval-fixture       # Tests/EvaluationTests/Fixtures/evaluation_networks.json
    python darts_reference.py bench --what search1 --batch 64 --threads 2 --steps 3

`bench` prints one JSON line with the median step time on random data.
"""

import argparse
import copy
import json
import math
import os
import random
import resource
import statistics
import sys
import time
from collections import namedtuple

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

# Genotypes (SPEC §3.1, §3.3): pairs (op, input) per intermediate node and the concat lists.
Genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")

DARTS_V1 = Genotype(
    normal=[("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 0), ("sep_conv_3x3", 1),
            ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 2)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 0),
            ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("avg_pool_3x3", 0)],
    reduce_concat=[2, 3, 4, 5],
)
DARTS_V2 = Genotype(
    normal=[("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
            ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)],
    reduce_concat=[2, 3, 4, 5],
)
PDARTS = Genotype(
    normal=[("skip_connect", 0), ("dil_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1), ("sep_conv_3x3", 3), ("sep_conv_3x3", 0), ("dil_conv_5x5", 4)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("avg_pool_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("dil_conv_5x5", 2),
            ("max_pool_3x3", 0), ("dil_conv_3x3", 1), ("dil_conv_3x3", 1), ("dil_conv_5x5", 3)],
    reduce_concat=[2, 3, 4, 5],
)
PC_DARTS_cifar = Genotype(
    normal=[("sep_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 0), ("dil_conv_3x3", 1),
            ("sep_conv_5x5", 0), ("sep_conv_3x3", 1), ("avg_pool_3x3", 0), ("dil_conv_3x3", 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 1), ("max_pool_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_5x5", 2),
            ("sep_conv_3x3", 0), ("sep_conv_3x3", 3), ("sep_conv_3x3", 1), ("sep_conv_3x3", 2)],
    reduce_concat=[2, 3, 4, 5],
)
PC_DARTS_image = Genotype(
    normal=[("skip_connect", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 0), ("skip_connect", 1),
            ("sep_conv_3x3", 1), ("sep_conv_3x3", 3), ("sep_conv_3x3", 1), ("dil_conv_5x5", 4)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 0), ("skip_connect", 1), ("dil_conv_5x5", 2), ("max_pool_3x3", 1),
            ("sep_conv_3x3", 2), ("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)
NASNet = Genotype(
    normal=[("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 0), ("sep_conv_3x3", 0),
            ("avg_pool_3x3", 1), ("skip_connect", 0), ("avg_pool_3x3", 0), ("avg_pool_3x3", 0),
            ("sep_conv_3x3", 1), ("skip_connect", 1)],
    normal_concat=[2, 3, 4, 5, 6],
    reduce=[("sep_conv_5x5", 1), ("sep_conv_7x7", 0), ("max_pool_3x3", 1), ("sep_conv_7x7", 0),
            ("avg_pool_3x3", 1), ("sep_conv_5x5", 0), ("skip_connect", 3), ("avg_pool_3x3", 2),
            ("sep_conv_3x3", 2), ("max_pool_3x3", 1)],
    reduce_concat=[4, 5, 6],
)
AmoebaNet = Genotype(
    normal=[("avg_pool_3x3", 0), ("max_pool_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 2),
            ("sep_conv_3x3", 0), ("avg_pool_3x3", 3), ("sep_conv_3x3", 1), ("skip_connect", 1),
            ("skip_connect", 0), ("avg_pool_3x3", 1)],
    normal_concat=[4, 5, 6],
    reduce=[("avg_pool_3x3", 0), ("sep_conv_3x3", 1), ("max_pool_3x3", 0), ("sep_conv_7x7", 2),
            ("sep_conv_7x7", 0), ("avg_pool_3x3", 1), ("max_pool_3x3", 0), ("max_pool_3x3", 1),
            ("conv_7x1_1x7", 0), ("sep_conv_3x3", 5)],
    reduce_concat=[3, 4, 6],
)
GENOTYPES = {
    "DARTS_V1": DARTS_V1, "DARTS_V2": DARTS_V2, "PDARTS": PDARTS, "PC_DARTS_cifar": PC_DARTS_cifar,
    "PC_DARTS_image": PC_DARTS_image, "NASNet": NASNet, "AmoebaNet": AmoebaNet,
}

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
    if name == "sep_conv_7x7":          # NASNet / AmoebaNet baselines only
        return SepConv(C, C, 7, stride, 3, affine)
    if name == "conv_7x1_1x7":          # AmoebaNet baseline only
        return nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C, C, (1, 7), stride=(1, stride), padding=(0, 3), bias=False),
            nn.Conv2d(C, C, (7, 1), stride=(stride, 1), padding=(3, 0), bias=False),
            nn.BatchNorm2d(C, affine=affine),
        )
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
    imagenet_stem: the three-conv stride-2 stem of PC-DARTS model_search_imagenet.py (SPEC 5.5):
    stem0/stem1 instead of stem, and cell 0 reduces its first input (reduction_prev = True).
    """

    def __init__(self, C=16, layers=8, classes=10, input_channels=3, K=1, edge_norm=False,
                 normal_ops=None, reduce_ops=None, skip_dropout=False, steps=STEPS,
                 imagenet_stem=False):
        super().__init__()
        E = edge_count(steps)
        self.normal_ops = normal_ops or [list(PRIMITIVES)] * E
        self.reduce_ops = reduce_ops or [list(PRIMITIVES)] * E
        self.K = K
        self.edge_norm = edge_norm
        self.config = dict(C=C, layers=layers, classes=classes, input_channels=input_channels, K=K,
                           edge_norm=edge_norm, skip_dropout=skip_dropout, steps=steps,
                           imagenet_stem=imagenet_stem)
        c_curr = STEM_MULTIPLIER * C
        self.imagenet_stem = imagenet_stem
        if imagenet_stem:
            self.stem0 = nn.Sequential(
                nn.Conv2d(input_channels, c_curr // 2, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c_curr // 2),
                nn.ReLU(inplace=True),
                nn.Conv2d(c_curr // 2, c_curr, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c_curr),
            )
            self.stem1 = nn.Sequential(
                nn.ReLU(inplace=True),
                nn.Conv2d(c_curr, c_curr, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c_curr),
            )
        else:
            self.stem = nn.Sequential(
                nn.Conv2d(input_channels, c_curr, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_curr),
            )
        c_pp, c_p, c_curr = c_curr, c_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = imagenet_stem
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
        if self.imagenet_stem:
            s0 = self.stem0(x)
            s1 = self.stem1(s0)
        else:
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
    """After cell 2L//3 (8×8): AvgPool 5 stride 3 → 2×2 (SPEC §6.1)."""

    def __init__(self, C, classes, stride=3, bn768=True):
        super().__init__()
        layers = [
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=stride, padding=0, count_include_pad=False),
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False),
        ]
        if bn768:
            layers.append(nn.BatchNorm2d(768))
        layers.append(nn.ReLU(inplace=False))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(768, classes)

    def forward(self, x):
        x = self.features(x)
        return self.classifier(x.view(x.size(0), -1))


class AuxiliaryHeadImageNet(AuxiliaryHeadCIFAR):
    """After cell 2L//3 (7×7): AvgPool 5 stride 2 → 2×2 (SPEC §6.2). `bn768=False` is the DARTS /
    PC-DARTS head (features.5 conv, features.6 ReLU); `bn768=True` the P-DARTS head."""

    def __init__(self, C, classes, bn768=False):
        super().__init__(C, classes, stride=2, bn768=bn768)


def build_eval_cells(module, genotype, layers, C_curr, c_pp, c_p, reduction_prev):
    """The cell stack of NetworkCIFAR / NetworkImageNet (SPEC §1.4): reductions at L//3 and
    2L//3, channels doubling there; sets `module.cells` and returns (C_prev, C_aux)."""
    module.cells = nn.ModuleList()
    c_aux = None
    for i in range(layers):
        reduction = i in (layers // 3, 2 * layers // 3)
        if reduction:
            C_curr *= 2
        pairs, concat = ((genotype.reduce, genotype.reduce_concat) if reduction
                         else (genotype.normal, genotype.normal_concat))
        module.cells.append(EvalCell(pairs, c_pp, c_p, C_curr, reduction, reduction_prev, concat))
        reduction_prev = reduction
        c_pp, c_p = c_p, len(concat) * C_curr
        if i == 2 * layers // 3:
            c_aux = c_p
    return c_p, c_aux


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
        c_p, c_aux = build_eval_cells(self, genotype, layers, C, c_curr, c_curr, False)
        if auxiliary:
            self.auxiliary_head = AuxiliaryHeadCIFAR(c_aux, classes)
        self.auxiliary = auxiliary
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, classes)

    def stem_states(self, x):
        s = self.stem(x)
        return s, s

    def forward(self, x):
        logits_aux = None
        s0, s1 = self.stem_states(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self._aux_pos and self.auxiliary and self.training:
                logits_aux = self.auxiliary_head(s1)
        out = self.global_pooling(s1)
        return self.classifier(out.view(out.size(0), -1)), logits_aux


class NetworkImageNet(NetworkCIFAR):
    """SPEC §6.2: two-part stem (stem0 224→56, C channels; stem1 56→28), cell 0 after a
    "reduction" (FactorizedReduce on the 56² stem0 output), auxiliary head after cell 2L//3 on
    7×7. The reference pools with AvgPool2d(7); the adaptive pool here equals it at 7×7."""

    def __init__(self, C=48, classes=1000, layers=14, genotype=DARTS_V2, auxiliary=True,
                 input_channels=3, bn768=False):
        nn.Module.__init__(self)
        self.drop_path_prob = 0.0
        self._aux_pos = 2 * layers // 3
        self.stem0 = nn.Sequential(
            nn.Conv2d(input_channels, C // 2, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C // 2),
            nn.ReLU(inplace=False),
            nn.Conv2d(C // 2, C, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C),
        )
        self.stem1 = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C, C, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C),
        )
        c_p, c_aux = build_eval_cells(self, genotype, layers, C, C, C, True)
        if auxiliary:
            self.auxiliary_head = AuxiliaryHeadImageNet(c_aux, classes, bn768=bn768)
        self.auxiliary = auxiliary
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, classes)

    def stem_states(self, x):
        s0 = self.stem0(x)
        return s0, self.stem1(s0)


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


CIFAR_SETTING = dict(C=36, layers=20, classes=10)       # SPEC §6.1
IMAGENET_SETTING = dict(C=48, layers=14, classes=1000)   # SPEC §6.2


def eval_network(genotype, imagenet=False, auxiliary=True, bn768=False):
    if imagenet:
        return NetworkImageNet(genotype=genotype, auxiliary=auxiliary, bn768=bn768,
                               **IMAGENET_SETTING)
    return NetworkCIFAR(genotype=genotype, auxiliary=auxiliary, **CIFAR_SETTING)


def eval_counts():
    """Parameter counts (auxiliary head excluded) of every genotype, CIFAR-10 and ImageNet."""
    return {
        setting: {name: count_parameters(eval_network(g, imagenet=setting == "imagenet"))
                  for name, g in GENOTYPES.items()}
        for setting in ("cifar", "imagenet")
    }


def cmd_counts(_args):
    torch.manual_seed(0)
    rows = [
        ("DARTS search C=16 L=8", count_parameters(SearchNetwork()), 1930618),
        ("PC-DARTS search K=4", count_parameters(SearchNetwork(K=4, edge_norm=True)), 299578),
        ("P-DARTS stage 1 L=5", count_parameters(SearchNetwork(layers=5)), 1275834),
        ("DARTS_V2 eval C=36 L=20", count_parameters(NetworkCIFAR(auxiliary=True)), 3349342),
        # Computed here (no published value); committed in the Swift SearchNetworkTests.
        ("PC-DARTS ImageNet search K=2", count_parameters(
            SearchNetwork(K=2, edge_norm=True, classes=1000, imagenet_stem=True)), 956512),
    ]
    ok = True
    for name, got, want in rows:
        print(f"{name:28s} {got:>9,d}  expected {want:>9,d}  {'ok' if got == want else 'MISMATCH'}")
        ok &= got == want
    net = SearchNetwork()
    names = dict(net.named_parameters())
    print("cells.2._ops.0._ops.4.op.1.weight", tuple(names["cells.2._ops.0._ops.4.op.1.weight"].shape))
    print("evaluation networks, auxiliary head excluded (CIFAR-10 C=36 L=20 | ImageNet C=48 L=14):")
    counts = eval_counts()
    for name in GENOTYPES:
        print(f"  {name:16s} {counts['cifar'][name]:>10,d} | {counts['imagenet'][name]:>10,d}")
    return 0 if ok else 1


def round9(x):
    return float(f"{x:.9g}")


def encode_tensor(t):
    """A fixture tensor: {"shape": [...], "data": [flat row-major]}, 9 significant digits."""
    t = t.detach()
    if t.dtype.is_floating_point:
        data = [round9(v) for v in t.to(torch.float64).reshape(-1).tolist()]
        assert all(math.isfinite(v) for v in data)
    else:
        data = [int(v) for v in t.reshape(-1).tolist()]
    return {"shape": list(t.shape), "data": data}


def imagenet_forward_case():
    """A small ImageNet-structure network (AmoebaNet cells: sep_conv_7x7, conv_7x1_1x7, concat
    [3, 4, 6]; C=2, L=3, 10 classes, 1×3×32×32 input: stem0 8², stem1 4², cells 4², 2², 1²) in
    eval mode with random weights and BN statistics, its full state and its logits."""
    torch.manual_seed(11)
    net = NetworkImageNet(C=2, classes=10, layers=3, genotype=AmoebaNet, auxiliary=False)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if name.endswith("running_mean") or name.endswith(".bias"):
                t.copy_(0.1 * torch.randn_like(t))
            elif name.endswith("running_var") or (name.endswith(".weight") and t.dim() == 1):
                t.copy_(torch.rand_like(t) + 0.5)
            elif name.endswith("num_batches_tracked"):
                t.fill_(3)
    net.eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        logits, _ = net(x)
    return {
        "genotype": "AmoebaNet",
        "config": {"C": 2, "layers": 3, "classes": 10, "input_size": 32, "auxiliary": False},
        "state": {name: encode_tensor(t) for name, t in net.state_dict().items()},
        "input": encode_tensor(x),
        "logits": encode_tensor(logits),
    }


def shape_list(model):
    """[name, shape] of every state_dict entry (parameters and BN buffers), in order."""
    return [[name, list(t.shape)] for name, t in model.state_dict().items()]


def cmd_eval_fixture(args):
    """Writes Tests/EvaluationTests/Fixtures/evaluation_networks.json (see README)."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    pdarts_head = eval_network(DARTS_V2, imagenet=True, bn768=True)
    fixture = {
        "torch_version": torch.__version__,
        "settings": {"cifar": CIFAR_SETTING, "imagenet": IMAGENET_SETTING},
        "counts": eval_counts(),
        "imagenet_forward": imagenet_forward_case(),
        "state_dict_shapes": {
            "DARTS_V2_cifar": shape_list(eval_network(DARTS_V2)),
            "DARTS_V2_imagenet": shape_list(eval_network(DARTS_V2, imagenet=True)),
            "imagenet_auxiliary_head_bn768": [
                e for e in shape_list(pdarts_head) if e[0].startswith("auxiliary_head.")],
        },
    }
    lines = []
    for key, value in fixture.items():
        if key == "imagenet_forward":
            lines.append(f'"{key}": {json.dumps(value, separators=(",", ":"))}')
        elif key == "state_dict_shapes":      # one entry per line keeps the file diffable
            parts = []
            for net, entries in value.items():
                rows = ",\n    ".join(json.dumps(e) for e in entries)
                parts.append(f'  "{net}": [\n    {rows}]')
            lines.append(f'"{key}": {{\n' + ",\n".join(parts) + "}")
        else:
            lines.append(f'"{key}": {json.dumps(value)}')
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as f:
        f.write("{" + ",\n".join(lines) + "}\n")
    json.load(open(args.output))            # well-formed
    print(f"wrote {args.output} ({os.path.getsize(args.output):,d} bytes)")
    return 0


def peak_rss_bytes():
    """This process's peak resident memory: VmHWM of /proc/self/status where it exists.

    Not ru_maxrss: on Linux a process started with vfork + exec (as Swift's Process does)
    inherits its parent's high-water mark there, so a child of a large process reports the
    parent's peak.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


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
        "peak_rss_bytes": peak_rss_bytes(),
        "torch_version": torch.__version__,
    }))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("counts", help="print parameter counts against SPEC §1.6")
    f = sub.add_parser("eval-fixture", help="write the evaluation-network counts and names fixture")
    f.add_argument("--output", default=os.path.normpath(os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "EvaluationTests",
        "Fixtures", "evaluation_networks.json")))
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
    return {"counts": cmd_counts, "eval-fixture": cmd_eval_fixture, "bench": cmd_bench}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
