"""Checks a model written by `darts export --onnx M --sample S` against darts' own logits.

    python onnx_parity.py M.onnx S.safetensors [--weights W.safetensors] [--tolerance 1e-4]

1. `onnx.checker.check_model(full_check=True)` (structure and strict shape inference);
2. onnxruntime on the sample batch S['input'] against darts' logits S['logits']: the largest
   absolute difference over the largest |logit| must be at most --tolerance; the first image
   alone (a second batch size through the symbolic batch dimension) must give the same row;
3. with --weights, every tensor of the weights file except `num_batches_tracked` and the
   auxiliary head is an initializer of that name, and no float initializer is anything else
   (constant inputs of Slice excepted).

Prints one JSON object with the figures and exits 1 (naming the failed check) if one fails.
Run with the interpreter `Scripts/python-tools.sh` prints.
"""

import argparse
import collections
import json
import struct
import sys

import numpy as np
import onnx
import onnxruntime


def read_safetensors(path):
    """The float32 tensors of a safetensors file by name (other dtypes skipped)."""
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__" or entry["dtype"] != "F32":
            continue
        start, end = entry["data_offsets"]
        raw = data[8 + length + start : 8 + length + end]
        tensors[name] = np.frombuffer(raw, dtype="<f4").reshape(entry["shape"])
    return tensors, set(n for n in header if n != "__metadata__")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("sample")
    parser.add_argument("--weights")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()

    failures = []
    model = onnx.load(args.model)
    try:
        onnx.checker.check_model(model, full_check=True)
        checker = "passed"
    except onnx.checker.ValidationError as error:
        checker = f"failed: {error}"
        failures.append("onnx.checker")
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    output_shape = [d.dim_param or d.dim_value for d in inferred.graph.output[0].type.tensor_type.shape.dim]

    sample, _ = read_safetensors(args.sample)
    images, expected = sample["input"], sample["logits"]
    session = onnxruntime.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {"input": images})
    (first,) = session.run(["logits"], {"input": images[:1]})
    difference = np.abs(logits.astype(np.float64) - expected)
    relative = float(difference.max() / np.abs(expected).max())
    single_image = float(np.abs(first[0] - logits[0]).max())
    if not relative <= args.tolerance:
        failures.append(f"logits differ by {relative:.3g} relative (tolerance {args.tolerance:g})")
    if not single_image <= args.tolerance * float(np.abs(expected).max()):
        failures.append(f"a batch of one gives other logits ({single_image:.3g})")

    report = {
        "checker": checker,
        "ir_version": model.ir_version,
        "opset": [(o.domain, o.version) for o in model.opset_import],
        "producer": f"{model.producer_name} {model.producer_version}",
        "nodes": len(model.graph.node),
        "operators": dict(sorted(collections.Counter(n.op_type for n in model.graph.node).items())),
        "initializers": len(model.graph.initializer),
        "parameters": sum(
            int(np.prod(t.dims))
            for t in model.graph.initializer
            if t.data_type == onnx.TensorProto.FLOAT and not t.name.endswith(("running_mean", "running_var"))
        ),
        "input": [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim],
        "output": output_shape,
        "batch": int(images.shape[0]),
        "max_abs_difference": float(difference.max()),
        "max_abs_logit": float(np.abs(expected).max()),
        "relative_difference": relative,
        "single_image_difference": single_image,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    if args.weights:
        _, names = read_safetensors(args.weights)
        wanted = {n for n in names if not n.endswith("num_batches_tracked") and not n.startswith("auxiliary_head.")}
        floats = {t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT}
        report["missing_initializers"] = sorted(wanted - floats)
        report["extra_initializers"] = sorted(floats - wanted)
        if report["missing_initializers"] or report["extra_initializers"]:
            failures.append("initializer names differ from the weights file's")
    report["failures"] = failures
    print(json.dumps(report))
    if failures:
        print("onnx_parity: " + "; ".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
