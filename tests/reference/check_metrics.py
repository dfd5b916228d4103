#!/usr/bin/env python3
"""Computes the vocoder metrics with reference implementations, for test_vocoder_metrics.

    python tests/reference/check_metrics.py REF.f32 OUT.f32

REF.f32 and OUT.f32 hold raw little-endian float32 audio of equal length. Prints one JSON object:
the multi-resolution STFT distance from auraloss's MultiResolutionSTFTLoss (the vocoder papers'
resolutions (512, 50, 240), (1024, 120, 600), (2048, 240, 1200), Hann windows; its terms averaged
over resolutions), and the envelope correlation with numpy (Pearson correlation of
ln(sum x^2 + 1e-10) over 1024-sample frames at hop 256).
"""

import json
import sys

import numpy as np
import torch
from auraloss.freq import MultiResolutionSTFTLoss


def envelope_correlation(ref, out):
    def energies(x):
        frames = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), 1024)[::256]
        return np.log((frames ** 2).sum(axis=1) + 1e-10)
    return float(np.corrcoef(energies(ref), energies(out))[0, 1])


def main():
    ref = np.fromfile(sys.argv[1], dtype="<f4")
    out = np.fromfile(sys.argv[2], dtype="<f4")
    loss = MultiResolutionSTFTLoss(fft_sizes=[512, 1024, 2048], hop_sizes=[50, 120, 240],
                                   win_lengths=[240, 600, 1200], output="full")
    # auraloss takes (input, target): the output is the input, the reference the target.
    total, sc, log_mag, _, _ = loss(torch.from_numpy(out)[None, None], torch.from_numpy(ref)[None, None])
    print(json.dumps({"mr_stft": float(total),
                      "spectral_convergence": float(sum(sc)) / len(sc),
                      "log_magnitude_l1": float(sum(log_mag)) / len(log_mag),
                      "envelope_correlation": envelope_correlation(ref, out)}))


if __name__ == "__main__":
    sys.exit(main())
