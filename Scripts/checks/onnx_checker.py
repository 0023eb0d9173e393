"""Runs onnx.checker (full check: structure and strict shape inference) on one model.

    python3 onnx_checker.py MODEL.onnx

Meant for the onnx of Debian's python3-onnx (1.12, the oldest release that reads opset 17):
`darts export` files must load there as well as in current onnx. Prints one JSON object and
exits 1 if the check fails.
"""

import json
import sys

import onnx

model = onnx.load(sys.argv[1])
try:
    onnx.checker.check_model(model, full_check=True)
    result = "passed"
except onnx.checker.ValidationError as error:
    result = f"failed: {error}"
print(json.dumps({"onnx": onnx.__version__, "checker": result, "ir_version": model.ir_version, "nodes": len(model.graph.node)}))
sys.exit(0 if result == "passed" else 1)
