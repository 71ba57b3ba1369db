#!/usr/bin/env python3
"""Writes the small hand-made seeds of the image-reader fuzz targets (fuzz/corpus/{npy,pnm,idx}); the other
targets' seeds are the fixtures themselves (scripts/fuzz.sh collects them) and the quantized op fixtures in
fuzz/corpus/dynq (README.md there). Deterministic. Needs numpy.

    python3 fuzz/make_seeds.py
"""
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    with open(os.path.join(HERE, "corpus", target, name), "wb") as f:
        f.write(data)


def npy(array, version=1, big_endian=False):
    descr = array.dtype.newbyteorder(">").str if big_endian else array.dtype.str
    data = array.astype(descr).tobytes()
    shape = "(%s)" % ("".join("%d," % d for d in array.shape) if array.ndim == 1 else ", ".join(map(str, array.shape)))
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    start = 10 if version == 1 else 12
    header += " " * ((64 - (start + len(header) + 1) % 64) % 64) + "\n"
    size = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header.encode() + data


def main():
    x = (np.arange(2 * 3 * 4 * 4) % 256).astype(np.uint8).reshape(2, 3, 4, 4)
    write("npy", "u1-nchw.npy", npy(x))
    write("npy", "u1-hw-v2.npy", npy(x[0, 0], version=2))
    write("npy", "f4-chw-be.npy", npy(x[0].astype(np.float32) / 255, big_endian=True))
    write("npy", "f4-nhw-v3.npy", npy(x[:, 0].astype(np.float32), version=3))
    write("npy", "i4-labels.npy", npy(np.array([0, 3, 9], dtype=np.int32)))
    write("npy", "i8-labels-be.npy", npy(np.array([1, 2], dtype=np.int64), big_endian=True))
    write("pnm", "gray-comment.pgm", b"P5\n# a comment\n4 3\n# another\n15\n" + bytes(range(12)))
    write("pnm", "rgb.ppm", b"P6 2 2 255\n" + bytes(range(0, 240, 20)))
    write("idx", "images.idx3", bytes([0, 0, 8, 3]) + struct.pack(">III", 2, 3, 3) + bytes(range(18)))
    write("idx", "labels.idx1", bytes([0, 0, 8, 1]) + struct.pack(">I", 5) + bytes([0, 1, 2, 3, 9]))


if __name__ == "__main__":
    main()
