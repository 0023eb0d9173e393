#!/usr/bin/env python3
"""Writes the PyTorch-weights fixture of Tests/EvaluationTests/Fixtures (SPEC §1.6, §6.1).

A small reference `NetworkCIFAR` (DARTS_V2, C=8, 5 cells, 10 classes, 3x32x32) with non-trivial
BN affine parameters and running statistics (three train-mode forwards), exported the way a
PyTorch user would export it:

* `reference_weights.safetensors`: `save_file(model.state_dict())` of the network without the
  auxiliary head (the head's 128->768 2x2 convolution alone would be 1.5 MB; in evaluation mode it
  does not change the logits). `num_batches_tracked` is int64, as PyTorch keeps it.
* `reference_logits.safetensors`: `input` (2x3x32x32) and the eval-mode `logits` (2x10).
* `reference_names.json`: name -> [shape, dtype] of the state_dict of the same network *with*
  the auxiliary head, for checking the names, shapes and dtypes our weights.safetensors has.
* `reference_imagenet_weights.safetensors`: a small reference `NetworkImageNet` (DARTS_V2, C=8,
  3 cells, 3 classes, no auxiliary head) prepared the same way on 3x32x32 inputs and exported as
  from `nn.DataParallel` (every name with a `module.` prefix), as the ImageNet scripts save it.
* `reference_imagenet_logits.safetensors`: its `input` (2x3x32x32) and eval-mode `logits` (2x3).

Run from the repository root with a Python that has torch 2.13 and safetensors:

    python Scripts/reference/make_weights_fixture.py
"""

import json
import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import darts_reference as ref  # noqa: E402

OUT = os.path.join("Tests", "EvaluationTests", "Fixtures")


def make_network(auxiliary, imagenet=False):
    torch.manual_seed(0)
    if imagenet:
        net = ref.NetworkImageNet(C=8, classes=3, layers=3, genotype=ref.DARTS_V2, auxiliary=auxiliary)
    else:
        net = ref.NetworkCIFAR(C=8, classes=10, layers=5, genotype=ref.DARTS_V2, auxiliary=auxiliary)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    net.train()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(8, 3, 32, 32, generator=gen))
    net.eval()
    return net


def main():
    os.makedirs(OUT, exist_ok=True)
    net = make_network(auxiliary=False)
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(state, os.path.join(OUT, "reference_weights.safetensors"))
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        logits, aux = net(x)
    assert aux is None
    save_file({"input": x.contiguous(), "logits": logits.contiguous()},
              os.path.join(OUT, "reference_logits.safetensors"))
    names = {k: [list(v.shape), str(v.dtype).replace("torch.", "")]
             for k, v in make_network(auxiliary=True).state_dict().items()}
    with open(os.path.join(OUT, "reference_names.json"), "w") as f:
        f.write("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(names.items())) + "\n}\n")

    imagenet = make_network(auxiliary=False, imagenet=True)
    save_file({"module." + k: v.contiguous() for k, v in imagenet.state_dict().items()},
              os.path.join(OUT, "reference_imagenet_weights.safetensors"))
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        imagenet_logits, _ = imagenet(x)
    save_file({"input": x.contiguous(), "logits": imagenet_logits.contiguous()},
              os.path.join(OUT, "reference_imagenet_logits.safetensors"))
    for name in ("reference_weights.safetensors", "reference_logits.safetensors",
                 "reference_imagenet_weights.safetensors", "reference_imagenet_logits.safetensors"):
        os.chmod(os.path.join(OUT, name), 0o644)
    print(f"{len(state)} tensors, {len(names)} names with the auxiliary head; logits {logits[0, :3].tolist()}")


if __name__ == "__main__":
    main()
