#!/usr/bin/env python3
"""Dump reference fixtures from the real lmnt-com/diffwave package for the C++ tests.

Writes tests/fixtures/lmnt_reference.h5 and tests/fixtures/speech_22050.wav.

How to regenerate
-----------------
Python environment (CPU is enough):

    python -m venv venv
    venv/bin/pip install torch==2.11.0 torchaudio==2.11.0 h5py numpy
    venv/bin/pip install --no-deps diffwave==0.1.7

Speech source (only needed to rebuild the WAV; otherwise the committed
tests/fixtures/speech_22050.wav is read back and reused unchanged):

    apt-get install -y pocketsphinx-testdata sox

Command line, from the repository root:

    venv/bin/python tests/reference/make_fixtures.py            # writes tests/fixtures/
    venv/bin/python tests/reference/make_fixtures.py --out DIR  # writes into DIR instead

The output is deterministic (fixed seeds, one CPU thread): running it twice gives
identical tensors. Everything compared by the C++ tests comes from the package's own
code (diffwave.model.DiffWave, diffwave.params, diffwave.inference.predict) and from
torchaudio.transforms.MelSpectrogram; only the learner's loss arithmetic (a handful of
tensor ops from diffwave/learner.py train_step) is restated here, with explicit t and
noise instead of random draws, because the learner needs tensorboard, an optimizer
and a dataset.
"""

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import importlib.metadata
import shutil
import subprocess
import tempfile
import wave

import h5py
import numpy as np
import torch
import torch.nn as nn
import torchaudio

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

import diffwave.inference
import diffwave.params
from diffwave.model import DiffWave
from diffwave.params import AttrDict

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

TINY = dict(
    residual_channels=8,
    residual_layers=4,
    dilation_cycle_length=2,
    n_mels=80,
    hop_samples=256,
    noise_schedule=np.linspace(1e-4, 0.05, 50).tolist(),
    inference_noise_schedule=[1e-4, 1e-3, 1e-2, 5e-2, 2e-1, 5e-1],
)

# Speech clip: LibriVox "Sense and Sensibility", ch. 1 (public domain), as shipped by
# Debian's pocketsphinx-testdata at 16 kHz. Resampled to 22050 Hz with sox, then cut.
SPEECH_SOURCE = ("/usr/share/pocketsphinx/test/data/librivox/"
                 "sense_and_sensibility_01_austen_64kb-0880.wav")
SPEECH_RATE = 22050
SPEECH_START = 4410          # 0.2 s into the resampled clip
SPEECH_LENGTH = 172 * 256    # 44032 samples = 1.997 s, a whole number of hops

WEIGHT_GRID = 2.0 ** -8      # perturbed weights are rounded to this grid (compresses better)


# ----------------------------------------------------------------------------- helpers

def f32(t):  # np.array (not ascontiguousarray, which turns a 0-d loss into shape [1])
    return np.array(t.detach().cpu().numpy(), dtype=np.float32, order="C")


def i64(t):
    return np.array(t.detach().cpu().numpy(), dtype=np.int64, order="C")


def put(h5, name, array):
    array = np.asarray(array)
    if array.ndim == 0:  # scalars cannot be chunked / compressed
        h5.create_dataset(name, data=array, track_times=False)
    else:
        h5.create_dataset(name, data=array, compression="gzip", compression_opts=9,
                          shuffle=True, track_times=False)


def build_tiny_model():
    torch.manual_seed(0)
    model = DiffWave(AttrDict(diffwave.params.params).override(TINY))
    # lmnt zero-initialises output_projection.weight; perturb every parameter so that no
    # weight is zero and every path through the network matters. Values are rounded to
    # a 2^-8 grid (any float32 is a valid weight; the grid only makes the file smaller).
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _, p in model.named_parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
            q = torch.round(p / WEIGHT_GRID)
            q = torch.where(q == 0, torch.where(p < 0, -1.0, 1.0), q)
            p.copy_(q * WEIGHT_GRID)
    for name, p in model.named_parameters():
        assert bool((p != 0).all()), name
    model.eval()  # no dropout/batchnorm in DiffWave; eval() only for clarity
    return model


class RandomRecorder:
    """Wraps torch.randn / torch.randn_like (as seen by diffwave.inference) and keeps
    a copy of every tensor they return, in draw order."""

    def __init__(self):
        self.draws = []

    def __enter__(self):
        assert diffwave.inference.torch is torch
        self._randn, self._randn_like = torch.randn, torch.randn_like

        def randn(*args, **kwargs):
            out = self._randn(*args, **kwargs)
            self.draws.append(out.detach().clone())
            return out

        def randn_like(*args, **kwargs):
            out = self._randn_like(*args, **kwargs)
            self.draws.append(out.detach().clone())
            return out

        torch.randn, torch.randn_like = randn, randn_like
        return self

    def __exit__(self, *exc):
        torch.randn, torch.randn_like = self._randn, self._randn_like
        return False


def load_speech(out_dir):
    """Returns int16 samples of the speech clip at 22050 Hz."""
    if os.path.exists(SPEECH_SOURCE) and shutil.which("sox"):
        with tempfile.TemporaryDirectory() as tmp:
            resampled = os.path.join(tmp, "r.wav")
            # -R: repeatable, -D: no dither, so the result is deterministic.
            subprocess.run(["sox", "-R", "-D", SPEECH_SOURCE, "-b", "16", "-c", "1", resampled,
                            "rate", "-h", str(SPEECH_RATE)], check=True)
            with wave.open(resampled, "rb") as w:
                assert w.getframerate() == SPEECH_RATE and w.getsampwidth() == 2
                pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        pcm = pcm[SPEECH_START:SPEECH_START + SPEECH_LENGTH].copy()
        assert pcm.shape == (SPEECH_LENGTH,)
        return pcm
    fallback = os.path.join(out_dir, "speech_22050.wav")
    if not os.path.exists(fallback):
        raise SystemExit(f"need {SPEECH_SOURCE} and sox (apt-get install pocketsphinx-testdata "
                         f"sox), or an existing {fallback}")
    print(f"note: {SPEECH_SOURCE} or sox missing; reusing {fallback}")
    with wave.open(fallback, "rb") as w:
        assert w.getframerate() == SPEECH_RATE and w.getsampwidth() == 2 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


def write_wav(path, pcm):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SPEECH_RATE)
        w.writeframes(pcm.astype("<i2").tobytes())


# ----------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "fixtures"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    # BASE model size, from the package's own params (before they are touched below).
    base_param_count = sum(p.numel() for p in DiffWave(AttrDict(diffwave.params.params)).parameters())

    model = build_tiny_model()
    state = model.state_dict()
    assert list(state.keys()) == [n for n, _ in model.named_parameters()]

    # ---- inputs
    gen = torch.Generator().manual_seed(1234)
    audio = torch.rand(2, 1024, generator=gen) * 2.0 - 1.0
    mel = torch.rand(2, 80, 4, generator=gen)
    t_int = torch.tensor([3, 41], dtype=torch.int64)
    t_frac = torch.tensor([0.894, 22.992], dtype=torch.float32)

    # ---- forward outputs
    with torch.no_grad():
        embedding_int = model.diffusion_embedding(t_int)
        upsampled = model.spectrogram_upsampler(mel)
        model_int = model(audio, mel, t_int)
        # DiffusionEmbedding._lerp_embedding only broadcasts for a single fractional
        # step ([B,128] * [B] fails for B=2), so fractional t is evaluated one sample at
        # a time (as predict does, with batch 1) and the rows are stacked.
        embedding_frac = torch.cat([model.diffusion_embedding(t_frac[i:i + 1]) for i in range(2)])
        model_frac = torch.cat([model(audio[i:i + 1], mel[i:i + 1], t_frac[i:i + 1]) for i in range(2)])

    # ---- training loss and gradients (arithmetic of diffwave/learner.py train_step)
    beta = np.array(model.params.noise_schedule)
    noise_level = torch.tensor(np.cumprod(1 - beta).astype(np.float32))
    train_t = torch.tensor([7, 44], dtype=torch.int64)
    train_noise = torch.randn(2, 1024, generator=torch.Generator().manual_seed(4321))
    for p in model.parameters():
        p.grad = None
    noise_scale = noise_level[train_t].unsqueeze(1)
    noise_scale_sqrt = noise_scale**0.5
    noisy_audio = noise_scale_sqrt * audio + (1.0 - noise_scale)**0.5 * train_noise
    predicted = model(noisy_audio, mel, train_t)
    loss = nn.L1Loss()(train_noise, predicted.squeeze(1))
    loss.backward()
    grads = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = None

    # ---- sampling through diffwave.inference.predict
    sample_mel = torch.rand(1, 80, 4, generator=torch.Generator().manual_seed(5678))
    samples = {}
    saved_params = dict(diffwave.params.params)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, "tiny.pt")
        torch.save({"model": state}, ckpt)
        diffwave.params.params.update(TINY)  # predict builds DiffWave(AttrDict(base_params))
        try:
            diffwave.inference.models.pop(ckpt, None)
            # First call loads the checkpoint into predict's cache; then hook the cached model.
            diffwave.inference.predict(sample_mel, model_dir=ckpt, device=torch.device("cpu"),
                                       fast_sampling=True)
            cached = diffwave.inference.models[ckpt]
            steps = []
            hook = cached.register_forward_pre_hook(
                lambda module, inputs: steps.append(inputs[2].detach().clone()))
            try:
                for kind, fast in (("fast", True), ("full", False)):
                    steps.clear()
                    torch.manual_seed(2020 if fast else 2021)
                    with RandomRecorder() as rec:
                        out, sr = diffwave.inference.predict(
                            sample_mel, model_dir=ckpt, device=torch.device("cpu"),
                            fast_sampling=fast)
                    assert sr == 22050
                    assert all(s.shape == (1,) and s.dtype == torch.float32 for s in steps)
                    samples[kind] = dict(t_seq=torch.cat(steps), noise=list(rec.draws), audio=out)
            finally:
                hook.remove()
            # The cached model must still hold exactly our weights.
            for k, v in cached.state_dict().items():
                assert torch.equal(v, state[k]), k
        finally:
            diffwave.inference.models.pop(ckpt, None)
            diffwave.params.params.clear()
            diffwave.params.params.update(saved_params)

    # ---- mel spectrogram of real speech (recipe of diffwave/preprocess.py)
    pcm = load_speech(args.out)
    speech = torch.from_numpy(pcm.astype(np.float32) / 32768.0)
    mel_transform = torchaudio.transforms.MelSpectrogram(
        sample_rate=22050, win_length=256 * 4, hop_length=256, n_fft=1024, f_min=20.0,
        f_max=22050 / 2.0, n_mels=80, power=1.0, normalized=True)
    with torch.no_grad():
        spectrogram = mel_transform(speech)
        spectrogram = 20 * torch.log10(torch.clamp(spectrogram, min=1e-5)) - 20
        spectrogram = torch.clamp((spectrogram + 100) / 100, 0.0, 1.0)

    # ---- write
    h5_path = os.path.join(args.out, "lmnt_reference.h5")
    tmp_path = h5_path + ".tmp"
    with h5py.File(tmp_path, "w", track_order=True) as h5:
        for key in ("residual_channels", "residual_layers", "dilation_cycle_length", "n_mels",
                    "hop_samples"):
            h5.attrs[key] = np.int64(TINY[key])
        h5.attrs["noise_schedule"] = np.asarray(TINY["noise_schedule"], dtype=np.float64)
        h5.attrs["inference_noise_schedule"] = np.asarray(TINY["inference_noise_schedule"],
                                                          dtype=np.float64)
        h5.attrs["torch_version"] = str(torch.__version__)
        h5.attrs["torchaudio_version"] = str(torchaudio.__version__)
        h5.attrs["diffwave_version"] = str(importlib.metadata.version("diffwave"))
        h5.attrs["base_param_count"] = np.int64(base_param_count)

        for key, value in state.items():
            put(h5, f"model/{key}", f32(value))

        put(h5, "inputs/audio", f32(audio))
        put(h5, "inputs/mel", f32(mel))
        put(h5, "inputs/t_int", i64(t_int))
        put(h5, "inputs/t_frac", f32(t_frac))

        put(h5, "outputs/embedding_int", f32(embedding_int))
        put(h5, "outputs/embedding_frac", f32(embedding_frac))
        put(h5, "outputs/upsampled", f32(upsampled))
        put(h5, "outputs/model_int", f32(model_int))
        put(h5, "outputs/model_frac", f32(model_frac))

        put(h5, "train/t", i64(train_t))
        put(h5, "train/noise", f32(train_noise))
        put(h5, "train/noise_level", f32(noise_level))
        put(h5, "train/noisy_audio", f32(noisy_audio))
        put(h5, "train/predicted", f32(predicted.squeeze(1)))
        put(h5, "train/loss", f32(loss))
        for key in state:
            put(h5, f"train/grad/{key}", f32(grads[key]))

        put(h5, "schedule/fast_T", f32(samples["fast"]["t_seq"].flip(0)))
        for kind in ("fast", "full"):
            s = samples[kind]
            put(h5, f"sample/{kind}/mel", f32(sample_mel))
            put(h5, f"sample/{kind}/t_seq", f32(s["t_seq"]))
            for i, noise in enumerate(s["noise"]):
                put(h5, f"sample/{kind}/noise/{i}", f32(noise))
            put(h5, f"sample/{kind}/audio", f32(s["audio"]))

        put(h5, "mel/audio", f32(speech))
        put(h5, "mel/spectrogram", f32(spectrogram))
    os.replace(tmp_path, h5_path)
    write_wav(os.path.join(args.out, "speech_22050.wav"), pcm)

    print(f"wrote {h5_path} ({os.path.getsize(h5_path)} bytes)")
    print(f"base_param_count={base_param_count} loss={loss.item():.6f} "
          f"fast_T={samples['fast']['t_seq'].flip(0).tolist()}")


if __name__ == "__main__":
    main()
