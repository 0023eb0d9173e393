"""Reads the TensorBoard event files of a run directory with TensorBoard's own reader.

    python3 Scripts/checks/read_tensorboard.py RUN_DIR

First every `events.out.tfevents.*` file of RUN_DIR is read record by record with
TensorBoard's TFRecord reader, which checks both CRC-32C checksums of every record (the
event accumulator would skip a bad record silently); a bad record exits with status 1. Then
`EventAccumulator(RUN_DIR)` loads the directory as `tensorboard --logdir` does, keeping every
event, and the script prints one JSON object:

    {"files": [{"name": ..., "records": N, "file_version": "brain.Event:2"}],
     "scalars": {tag: [[step, value, wall_time], ...]}, "texts": {tag: [[step, text], ...]}}

Used by the CLI tests (Tests/DartsCLITests/TensorBoardCLITests.swift), with the environment
of Scripts/python-tools.sh.
"""

import json
import os
import sys

from tensorboard.backend.event_processing import event_accumulator
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow


def check_records(name, path):
    """The file's record count and the version its first record holds."""
    reader = pywrap_tensorflow.PyRecordReader_New(path)
    records = []
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            break
        records.append(reader.record())
    version = event_pb2.Event.FromString(records[0]).file_version if records else None
    return {"name": name, "records": len(records), "file_version": version}


def main(run_dir):
    names = sorted(n for n in os.listdir(run_dir) if n.startswith("events.out.tfevents."))
    files = []
    for name in names:
        try:
            files.append(check_records(name, os.path.join(run_dir, name)))
        except errors.OpError as error:
            print(f"{name}: {error.message}", file=sys.stderr)
            return 1
    keep_all = {kind: 0 for kind in event_accumulator.DEFAULT_SIZE_GUIDANCE}
    accumulator = event_accumulator.EventAccumulator(run_dir, size_guidance=keep_all)
    accumulator.Reload()
    tags = accumulator.Tags()
    scalars = {
        tag: [[e.step, e.value, e.wall_time] for e in accumulator.Scalars(tag)] for tag in tags["scalars"]
    }
    texts = {
        tag: [[e.step, e.tensor_proto.string_val[0].decode("utf-8")] for e in accumulator.Tensors(tag)]
        for tag in tags["tensors"]
        if accumulator.SummaryMetadata(tag).plugin_data.plugin_name == "text"
    }
    print(json.dumps({"files": files, "scalars": scalars, "texts": texts}))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
