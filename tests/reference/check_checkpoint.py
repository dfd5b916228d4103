#!/usr/bin/env python3
"""Reads a diffwave-train checkpoint with Python's `safetensors` and, separately, with numpy alone.

Used by tests/mpi/test_train_mpi.cpp (SafetensorsAndNumpyReadTheCheckpoint):

    python tests/reference/check_checkpoint.py CHECKPOINT.safetensors

Prints one JSON object: {"tensors": {name: {"dtype", "shape", "sha256"}}, "metadata": {...}},
where sha256 is of the tensor's little-endian bytes in C order, so the C++ side can compare every
value. Exits 1 when the two readers disagree on anything.
"""

import hashlib
import json
import struct
import sys

import numpy as np
from safetensors import safe_open

# safetensors dtype names -> numpy; BF16 has no numpy type, so its raw 16-bit words are compared.
NUMPY = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
         "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}


def with_numpy(path):
    """The layout read by hand: 8-byte little-endian header size, JSON header, raw bytes."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    metadata = header.pop("__metadata__", {})
    data = blob[8 + n:]
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        tensors[name] = (info["dtype"], np.frombuffer(data[begin:end], dtype=NUMPY[info["dtype"]]).reshape(info["shape"]))
    return tensors, metadata


def with_safetensors(path):
    tensors = {}
    with safe_open(path, framework="numpy") as f:
        metadata = f.metadata() or {}
        for name in f.keys():
            sl = f.get_slice(name)
            dtype = sl.get_dtype()
            if dtype == "BF16":  # numpy cannot hold bf16; safetensors refuses it in numpy mode
                tensors[name] = (dtype, None)
            else:
                tensors[name] = (dtype, f.get_tensor(name))
    return tensors, metadata


def main():
    path = sys.argv[1]
    mine, meta = with_numpy(path)
    theirs, meta_st = with_safetensors(path)
    ok = sorted(mine) == sorted(theirs) and meta == meta_st
    out = {"tensors": {}, "metadata": meta}
    for name, (dtype, array) in mine.items():
        st_dtype, st_array = theirs.get(name, (None, None))
        if st_dtype != dtype or (st_array is not None and
                                 (st_array.shape != array.shape or st_array.tobytes() != array.tobytes())):
            print(f"safetensors and numpy disagree on {name}", file=sys.stderr)
            ok = False
        le = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False)
        out["tensors"][name] = {"dtype": dtype, "shape": list(array.shape),
                                "sha256": hashlib.sha256(le.tobytes()).hexdigest()}
    print(json.dumps(out))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
