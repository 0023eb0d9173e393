#!/usr/bin/env python3
"""Golden fixture for the DARTS recurrent cells and language model (SPEC-RNN §1–4).

    /work/venv-torch/bin/python Scripts/reference/make_recurrent_fixture.py

writes Tests/LanguageModelsTests/Fixtures/recurrent.json. The cells are written here in
PyTorch straight from SPEC-RNN, step by step as the reference `DARTSCell` / `DARTSCellSearch`
compute them (concatenate the masked x_t and h_{t−1}, multiply by W₀, split the gate from the
candidate, one product per node; in the search cell each node stacks its predecessors and mixes
all operations with softmax(α), then the shared affine-free BatchNorm1d):

- `eval_cell`: DARTS_V2 with explicit dropout masks; outputs, h_T, and the gradients of
  Σ outputs ⊙ G with respect to W₀, every W_n, the inputs and h₀.
- `search_cell`: 8 nodes, α drawn as randn (not 1e-3·randn, so that the mixing shows), train-mode
  BN; outputs, h_T, the gradients including α's, and BN's running statistics afterwards.
- `model`: the tied-weight model around the evaluation cell without dropout: the mean NLL of the
  targets, the TAR term (β = 1e-3) and the gradients of NLL + TAR with respect to the tied
  embedding / decoder weight and the decoder bias.

Deterministic: seeded, single-threaded, float32. Sizes are tiny (V = 11, E = H = 6, T = 4,
B = 3).
"""

import json
import os

import torch
import torch.nn.functional as F

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "Tests", "LanguageModelsTests", "Fixtures", "recurrent.json")

SEED = 1267
V, H, T, B = 11, 6, 4, 3
DARTS_V2 = [("sigmoid", 0), ("relu", 1), ("relu", 1), ("identity", 1), ("tanh", 2), ("sigmoid", 5), ("tanh", 3), ("relu", 5)]
PRIMITIVES = ["none", "tanh", "relu", "sigmoid", "identity"]
ACT = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "identity": lambda x: x}


def tensor(t):
    return {"shape": list(t.shape), "data": [float(f"{v:.9g}") for v in t.detach().reshape(-1).tolist()]}


def highway(x, h, mx, mh, W0):
    xh = torch.cat([x * mx, h * mh], dim=-1) @ W0
    c0, h0 = xh.split(H, dim=-1)
    return h + c0.sigmoid() * (h0.tanh() - h)


def eval_cell(inputs, hidden, mx, mh, W0, Ws, genotype, concat):
    outputs, h = [], hidden
    for t in range(inputs.shape[0]):
        states = [highway(inputs[t], h, mx, mh, W0)]
        for i, (name, pred) in enumerate(genotype):
            s_prev = states[pred]
            ch = (s_prev * mh) @ Ws[i]
            c, g = ch.split(H, dim=-1)
            states.append(s_prev + c.sigmoid() * (ACT[name](g) - s_prev))
        h = torch.mean(torch.stack([states[i] for i in concat], -1), -1)
        outputs.append(h)
    return torch.stack(outputs), h


def search_cell(inputs, hidden, mx, mh, W0, Ws, alphas, bn, steps=8):
    probs = F.softmax(alphas, dim=-1)
    outputs, h = [], hidden
    for t in range(inputs.shape[0]):
        s0 = bn(highway(inputs[t], h, mx, mh, W0))
        states = s0.unsqueeze(0)
        offset = 0
        for i in range(steps):
            masked = states * mh.unsqueeze(0)
            ch = masked.view(-1, H) @ Ws[i]
            c, g = ch.view(i + 1, -1, 2 * H).split(H, dim=-1)
            c = c.sigmoid()
            s = torch.zeros_like(s0)
            for k, name in enumerate(PRIMITIVES):
                if name == "none":
                    continue
                unweighted = states + c * (ACT[name](g) - states)
                s = s + torch.sum(probs[offset:offset + i + 1, k].unsqueeze(-1).unsqueeze(-1) * unweighted, dim=0)
            s = bn(s)
            states = torch.cat([states, s.unsqueeze(0)], 0)
            offset += i + 1
        h = torch.mean(states[-steps:], dim=0)
        outputs.append(h)
    return torch.stack(outputs), h


def mask(shape, p, gen):
    keep = 1 - p
    return (torch.rand(shape, generator=gen) < keep).float() / keep


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(SEED)
    fixture = {"sizes": {"V": V, "H": H, "T": T, "B": B}, "genotype": [list(e) for e in DARTS_V2]}

    def params(count):
        W0 = (torch.rand(2 * H, 2 * H, generator=gen) * 0.8 - 0.4).requires_grad_()
        Ws = [(torch.rand(H, 2 * H, generator=gen) * 0.8 - 0.4).requires_grad_() for _ in range(count)]
        return W0, Ws

    # Evaluation cell with masks.
    W0, Ws = params(8)
    x = torch.randn(T, B, H, generator=gen).requires_grad_()
    h0 = (torch.randn(B, H, generator=gen) * 0.5).requires_grad_()
    mx, mh = mask((B, H), 0.5, gen), mask((B, H), 0.25, gen)
    out, hT = eval_cell(x, h0, mx, mh, W0, Ws, DARTS_V2, range(1, 9))
    G = torch.randn(T, B, H, generator=gen)
    (out * G).sum().backward()
    fixture["eval_cell"] = {
        "W0": tensor(W0), "Ws": [tensor(w) for w in Ws], "inputs": tensor(x), "hidden": tensor(h0),
        "mask_x": tensor(mx), "mask_h": tensor(mh), "outputs": tensor(out), "last": tensor(hT), "grad_output": tensor(G),
        "grad_W0": tensor(W0.grad), "grad_Ws": [tensor(w.grad) for w in Ws], "grad_inputs": tensor(x.grad),
        "grad_hidden": tensor(h0.grad),
    }

    # Search cell, train-mode BN, with masks.
    W0, Ws = params(8)
    alphas = torch.randn(36, 5, generator=gen).requires_grad_()
    bn = torch.nn.BatchNorm1d(H, affine=False)
    bn.train()
    x = torch.randn(T, B, H, generator=gen).requires_grad_()
    h0 = (torch.randn(B, H, generator=gen) * 0.5).requires_grad_()
    mx, mh = mask((B, H), 0.5, gen), mask((B, H), 0.25, gen)
    out, hT = search_cell(x, h0, mx, mh, W0, Ws, alphas, bn)
    G = torch.randn(T, B, H, generator=gen)
    (out * G).sum().backward()
    fixture["search_cell"] = {
        "W0": tensor(W0), "Ws": [tensor(w) for w in Ws], "alphas": tensor(alphas), "inputs": tensor(x),
        "hidden": tensor(h0), "mask_x": tensor(mx), "mask_h": tensor(mh), "outputs": tensor(out), "last": tensor(hT),
        "grad_output": tensor(G), "grad_W0": tensor(W0.grad), "grad_Ws": [tensor(w.grad) for w in Ws],
        "grad_alphas": tensor(alphas.grad), "grad_inputs": tensor(x.grad), "grad_hidden": tensor(h0.grad),
        "running_mean": tensor(bn.running_mean), "running_var": tensor(bn.running_var),
    }

    # The tied model around the evaluation cell, no dropout.
    W0, Ws = params(8)
    encoder = (torch.rand(V, H, generator=gen) * 0.8 - 0.4).requires_grad_()
    bias = (torch.randn(V, generator=gen) * 0.1).requires_grad_()
    tokens = torch.randint(0, V, (T, B), generator=gen)
    targets = torch.randint(0, V, (T, B), generator=gen)
    h0 = torch.zeros(B, H)
    ones = torch.ones(B, H)
    emb = F.embedding(tokens, encoder)
    raw, _ = eval_cell(emb, h0, ones, ones, W0, Ws, DARTS_V2, range(1, 9))
    logits = raw.view(-1, H) @ encoder.t() + bias
    nll = F.nll_loss(F.log_softmax(logits, dim=-1), targets.view(-1))
    tar = 1e-3 * (raw[1:] - raw[:-1]).pow(2).mean()
    (nll + tar).backward()
    fixture["model"] = {
        "W0": tensor(W0), "Ws": [tensor(w) for w in Ws], "encoder": tensor(encoder), "bias": tensor(bias),
        "tokens": tokens.reshape(-1).tolist(), "targets": targets.reshape(-1).tolist(),
        "nll": float(nll.detach()), "tar": float(tar.detach()), "grad_encoder": tensor(encoder.grad), "grad_bias": tensor(bias.grad),
        "grad_W0": tensor(W0.grad),
    }

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
    print("wrote", OUT, "with torch", torch.__version__)


if __name__ == "__main__":
    main()
