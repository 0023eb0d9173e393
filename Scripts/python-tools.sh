#!/usr/bin/env bash
# Creates the Python environment that the ONNX and TensorBoard tests read their results with:
# onnx (checker), onnxruntime (parity of logits) and tensorboard (its event reader), pinned,
# from PyPI into a virtual environment outside the repository. Prints the interpreter's path.
#
#   bash Scripts/python-tools.sh [DIR]        # default: $DARTS_PYTHON_TOOLS or ~/.cache/darts/python-tools
#   export DARTS_PYTHON=DIR/bin/python3       # where the tests look for it (that default otherwise)
set -euo pipefail
dir=${1:-${DARTS_PYTHON_TOOLS:-$HOME/.cache/darts/python-tools}}
python=${PYTHON:-python3}
if [ ! -x "$dir/bin/python3" ]; then
  "$python" -m venv "$dir" >&2
fi
"$dir/bin/python3" -m pip install -q --disable-pip-version-check \
  numpy==2.4.6 protobuf==7.36.2 onnx==1.23.2 onnxruntime==1.32.0 tensorboard==2.21.0 >&2
"$dir/bin/python3" -c "import onnx, onnxruntime, tensorboard" >&2
echo "$dir/bin/python3"
