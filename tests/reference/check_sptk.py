#!/usr/bin/env python3
"""Runs SPTK's own programs (Debian package sptk) on raw float32 audio, for test_mel_cepstrum and
test_pitch. Never used by the product.

    python tests/reference/check_sptk.py mcep REF.f32 OUT.f32 FRAME HOP ORDER ALPHA FLOOR
        frame -l FRAME -p HOP | window -l FRAME | mcep -l FRAME -m ORDER -a ALPHA -e FLOOR on each
        file; prints JSON: both files' mel-cepstra and their mel-cepstral distortion (dB, c0
        excluded, mean over frames).
    python tests/reference/check_sptk.py pitch AUDIO.f32 RATE HOP F0_MIN F0_MAX ALGORITHM
        pitch -a ALGORITHM (0 RAPT, 1 SWIPE') -s RATE/1000 on the audio times 32768 -p HOP -L F0_MIN -H F0_MAX -o 1;
        prints JSON: F0 in Hz per frame, 0 where unvoiced.

The programs are taken from /usr/libexec/sptk/bin, else through the `sptk` wrapper on PATH.
"""

import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np


def program(name):
    path = os.path.join("/usr/libexec/sptk/bin", name)
    if os.access(path, os.X_OK):
        return [path]
    if shutil.which("sptk"):
        return ["sptk", name]
    sys.exit(f"SPTK's {name} program is missing: install the Debian package sptk (launch/setup.sh does)")


def pipeline(data, *commands):
    for command in commands:
        data = subprocess.run(program(command[0]) + [str(a) for a in command[1:]], input=data,
                              stdout=subprocess.PIPE, check=True).stdout
    return data


def mel_cepstra(path, frame, hop, order, alpha, floor):
    raw = np.fromfile(path, dtype="<f4").astype(np.float32).tobytes()
    out = pipeline(raw, ["frame", "-l", frame, "-p", hop], ["window", "-l", frame],
                   ["mcep", "-l", frame, "-m", order, "-a", alpha, "-e", floor])
    return np.frombuffer(out, dtype=np.float32).astype(np.float64).reshape(-1, int(order) + 1)


def main():
    if sys.argv[1] == "mcep":
        ref_path, out_path, frame, hop, order, alpha, floor = sys.argv[2:9]
        ref = mel_cepstra(ref_path, frame, hop, order, alpha, floor)
        out = mel_cepstra(out_path, frame, hop, order, alpha, floor)
        per_frame = 10 / math.log(10) * np.sqrt(2 * ((ref[:, 1:] - out[:, 1:]) ** 2).sum(axis=1))
        print(json.dumps({"mcd_db": float(per_frame.mean()), "ref": ref.tolist(), "out": out.tolist()}))
    elif sys.argv[1] == "pitch":
        path, rate, hop, f0_min, f0_max, algorithm = sys.argv[2:8]
        # RAPT's thresholds assume 16-bit sample values; SWIPE' does not mind the scale.
        raw = (np.fromfile(path, dtype="<f4") * 32768).astype(np.float32).tobytes()
        out = pipeline(raw, ["pitch", "-a", algorithm, "-s", float(rate) / 1000, "-p", hop,
                             "-L", f0_min, "-H", f0_max, "-o", 1])
        print(json.dumps({"f0": np.frombuffer(out, dtype=np.float32).astype(float).tolist()}))
    else:
        sys.exit(f"unknown command {sys.argv[1]}")


if __name__ == "__main__":
    sys.exit(main())
