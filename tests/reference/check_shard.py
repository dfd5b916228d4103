#!/usr/bin/env python3
"""Reads a diffwave-prep shard with h5py alone, the way a Python user would, and validates the
v1 layout documented in src/prep/README.md. Prints a summary; exits non-zero on any problem.

    python tests/reference/check_shard.py OUT/shards/shard-r0000-00000.h5 [--manifest OUT/manifest.json]
"""
import argparse
import hashlib
import json
import os
import sys

import h5py
import numpy as np

PARAMS = ["sample_rate", "n_fft", "win_length", "hop_samples", "n_mels", "f_min", "f_max"]


def fail(msg):
    print(f"check_shard: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("shard")
    ap.add_argument("--manifest")
    args = ap.parse_args()

    with h5py.File(args.shard, "r") as f:
        a = f.attrs
        if int(a["format_version"]) != 1:
            fail(f"format_version {a['format_version']}")
        for key in PARAMS + ["audio_dtype", "mel_normalisation"]:
            if key not in a:
                fail(f"missing root attribute {key}")
        dtype = a["audio_dtype"]
        dtype = dtype.decode() if isinstance(dtype, bytes) else dtype
        audio, mel = f["audio"], f["mel"]
        if audio.ndim != 1 or audio.dtype != np.dtype(dtype):
            fail(f"/audio is {audio.dtype} {audio.shape}, attribute says {dtype}")
        n_mels, hop = int(a["n_mels"]), int(a["hop_samples"])
        if mel.dtype != np.float32 or mel.ndim != 2 or mel.shape[1] != n_mels:
            fail(f"/mel is {mel.dtype} {mel.shape}, expected float32 [frames, {n_mels}]")
        ids = [s.decode("utf-8") if isinstance(s, bytes) else s for s in f["index/id"][...]]
        cols = {k: f[f"index/{k}"][...] for k in ["audio_offset", "audio_length", "mel_offset", "mel_frames"]}
        for k, v in cols.items():
            if v.dtype != np.int64 or len(v) != len(ids):
                fail(f"/index/{k} is {v.dtype} with {len(v)} entries for {len(ids)} ids")
        validation = f["index/validation"][...]
        if np.any(cols["mel_frames"] != cols["audio_length"] // hop + 1):
            fail("mel_frames != floor(audio_length / hop) + 1")
        if np.any(np.diff(cols["audio_offset"]) != cols["audio_length"][:-1]) or cols["audio_offset"][0] != 0:
            fail("audio offsets are not contiguous")
        if np.any(np.diff(cols["mel_offset"]) != cols["mel_frames"][:-1]) or cols["mel_offset"][0] != 0:
            fail("mel offsets are not contiguous")
        if cols["audio_length"].sum() != audio.shape[0] or cols["mel_frames"].sum() != mel.shape[0]:
            fail("index does not cover the datasets exactly")
        # Spot-check the first utterance: samples in range, mel in [0, 1].
        x = audio[cols["audio_offset"][0] : cols["audio_offset"][0] + cols["audio_length"][0]]
        x = x.astype(np.float32) / 32768.0 if dtype == "int16" else x
        m = mel[cols["mel_offset"][0] : cols["mel_offset"][0] + cols["mel_frames"][0]]
        if np.abs(x).max() > 1.0 or m.min() < 0.0 or m.max() > 1.0:
            fail("values out of range in the first utterance")
        print(f"shard {os.path.basename(args.shard)}: {len(ids)} utterances, {audio.shape[0]} samples "
              f"({dtype}), mel {tuple(mel.shape)}, {int(validation.sum())} validation, "
              f"sample_rate {int(a['sample_rate'])}, hop {hop}, first id {ids[0]!r}")

    if args.manifest:
        with open(args.manifest) as f:
            manifest = json.load(f)
        rel = os.path.relpath(args.shard, os.path.dirname(args.manifest))
        entry = next((s for s in manifest["shards"] if s["path"] == rel), None)
        if entry is None:
            fail(f"{rel} is not in the manifest")
        digest = hashlib.sha256(open(args.shard, "rb").read()).hexdigest()
        if digest != entry["sha256"] or entry["utterances"] != len(ids):
            fail("sha256 or utterance count differs from the manifest")
        print("manifest entry matches (sha256, utterances)")


if __name__ == "__main__":
    main()
