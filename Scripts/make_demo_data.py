#!/usr/bin/env python3
"""Regenerates Sources/Datasets/Demo/ from Debian's dataset-fashion-mnist package.

Takes the first TRAIN_COUNT training and the first TEST_COUNT test images (and their labels)
from /usr/share/datasets/fashion-mnist and writes them as gzip-compressed IDX files with the
same names. The gzip header carries no file name and mtime 0, so reruns are byte-identical.

Usage: python3 Scripts/make_demo_data.py [SOURCE_DIR] [DEST_DIR]
"""
import gzip
import os
import struct
import sys

TRAIN_COUNT = 4000
TEST_COUNT = 1000


def subset(source, dest, name, count):
    with gzip.open(os.path.join(source, name + ".gz"), "rb") as f:
        data = f.read()
    magic, total = struct.unpack(">II", data[:8])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * (dims - 1), data[8:4 + 4 * dims])
    if count > total:
        sys.exit(f"{name}: wants {count} items, has {total}")
    item = 1
    for d in shape:
        item *= d
    header = struct.pack(">II", magic, count) + data[8:4 + 4 * dims]
    body = data[4 + 4 * dims:4 + 4 * dims + count * item]
    with open(os.path.join(dest, name + ".gz"), "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
            f.write(header + body)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    source = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
    dest = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "Sources", "Datasets", "Demo")
    os.makedirs(dest, exist_ok=True)
    for split, count in (("train", TRAIN_COUNT), ("t10k", TEST_COUNT)):
        subset(source, dest, f"{split}-images-idx3-ubyte", count)
        subset(source, dest, f"{split}-labels-idx1-ubyte", count)


if __name__ == "__main__":
    main()
