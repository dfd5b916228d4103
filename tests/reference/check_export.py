#!/usr/bin/env python3
"""Runs a model exported by diffwave-export in lmnt-com/diffwave's own code.

Used by tests/mpi/test_sample_mpi.cpp (LmntRunsTheExportedModel):

    python tests/reference/check_export.py WEIGHTS.pt INPUTS.pt OUTPUTS.pt

WEIGHTS.pt is opened with torch.load(weights_only=True), as a user would, and its params build
diffwave.model.DiffWave (0.1.7: forward(audio, spectrogram, diffusion_step)). INPUTS.pt is a
dict {'audio': [B, L], 'mel': [B, n_mels, frames], 'steps': [B] int64} written by the C++
test; OUTPUTS.pt gets {'output': [B, 1, L]} as a plain dict, which C++ reads back.
Exit status 3 when the diffwave package is not installed (the test then skips).
"""

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

try:
    from diffwave.model import DiffWave
    from diffwave.params import AttrDict
except ImportError as e:
    print(f"diffwave package missing: {e}", file=sys.stderr)
    sys.exit(3)


def main():
    weights_path, inputs_path, outputs_path = sys.argv[1:4]
    torch.set_num_threads(1)
    checkpoint = torch.load(weights_path, weights_only=True)
    params = AttrDict(checkpoint["params"])
    model = DiffWave(params)
    model.load_state_dict(checkpoint["model"])  # strict: every name and shape must match
    model.eval()
    inputs = torch.load(inputs_path, weights_only=True)
    with torch.no_grad():
        output = model(inputs["audio"], inputs["mel"], inputs["steps"])
    torch.save({"output": output.contiguous()}, outputs_path)
    print(f"lmnt DiffWave ({sum(p.numel() for p in model.parameters())} parameters) ran "
          f"{tuple(inputs['audio'].shape)} -> {tuple(output.shape)}")


if __name__ == "__main__":
    main()
