#!/usr/bin/env python3
"""Scores vocoder outputs on a prepared split with the reference implementations, for the README's
quality table and the start-of-clip measurement.

    ~/.cache/diffwave-cpp/venv/bin/python bench/quality.py PREP [--split valid] [--griffin-lim]
        [NAME=WAV_DIR ...]

Each utterance's stored audio (PREP's shards) is the reference; each system's WAV_DIR/<id>.wav
(diffwave-sample --mel PREP --split valid --output WAV_DIR) is scored against it with: auraloss's
multi-resolution STFT distance (the papers' resolutions), the log-mel L1 in dB (lmnt's mel, with
torchaudio), the envelope correlation (numpy), the mel-cepstral distortion (SPTK's frame, window
and mcep programs, order 34, alpha by rate, 1024/256 frames) and the log-F0 RMSE in cents and
voiced/unvoiced error against SPTK's RAPT. --griffin-lim adds torchaudio's Griffin-Lim from the
stored mel (lmnt's normalisation undone, InverseMelScale, 64 iterations) as a no-training baseline.

The start of a clip (lmnt issue #25): the mean absolute frame log-energy error (dB, 1024-sample
frames, hop 256) over the first 0.25 s and over the middle 0.25 s of each utterance; and, where
the original is silent (40 dB below its loudest frame), the output's frame energy (dB relative to
the original's loudest frame) in the first 0.25 s, between, and in the last 0.25 s: equal values
mean the output's noise floor does not depend on the position; a higher first value is the
start-of-clip noise.
"""
import argparse
import math
import os
import sys
import wave

import h5py
import numpy as np
import torch
import torchaudio

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
from check_metrics import envelope_correlation  # noqa: E402
from check_sptk import pipeline  # noqa: E402
from auraloss.freq import MultiResolutionSTFTLoss  # noqa: E402

ALPHAS = {16000: 0.42, 22050: 0.45, 24000: 0.46, 44100: 0.53, 48000: 0.55}


def read_split(prep, split):
    """[(id, audio float32, mel [n_mels, frames])] of the split, and the shards' audio parameters."""
    items, params = [], None
    shards = sorted(os.path.join(prep, "shards", f) for f in os.listdir(os.path.join(prep, "shards")) if f.endswith(".h5"))
    for path in shards:
        with h5py.File(path, "r") as f:
            params = {k: f.attrs[k] for k in ("sample_rate", "n_fft", "win_length", "hop_samples", "n_mels", "f_min", "f_max")}
            scale = float(f.attrs["audio_scale"]) if "audio_scale" in f.attrs else 1.0
            index = {k: f[f"index/{k}"][...] for k in ("id", "audio_offset", "audio_length", "mel_offset", "mel_frames", "validation")}
            for i in range(len(index["id"])):
                if (split == "valid") != bool(index["validation"][i]):
                    continue
                a0, n = int(index["audio_offset"][i]), int(index["audio_length"][i])
                m0, frames = int(index["mel_offset"][i]), int(index["mel_frames"][i])
                audio = f["audio"][a0:a0 + n].astype(np.float32) * np.float32(scale)
                mel = np.asarray(f["mel"][m0:m0 + frames], dtype=np.float32).T
                name = index["id"][i]
                items.append((name.decode() if isinstance(name, bytes) else str(name), audio, mel))
    return items, params


def read_wav(path):
    """16-bit PCM mono, as diffwave-sample writes it, as float32 in [-1, 1]."""
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            sys.exit(f"{path}: expected 16-bit mono PCM")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768


def lmnt_mel(params):
    """lmnt's mel spectrogram (diffwave.preprocess), mapped to [0, 1]."""
    transform = torchaudio.transforms.MelSpectrogram(
        sample_rate=int(params["sample_rate"]), win_length=int(params["win_length"]), hop_length=int(params["hop_samples"]),
        n_fft=int(params["n_fft"]), f_min=float(params["f_min"]), f_max=float(params["f_max"]), n_mels=int(params["n_mels"]),
        power=1.0, normalized=True)

    def mel(audio):
        spec = transform(torch.from_numpy(audio))
        return torch.clamp((20 * torch.log10(torch.clamp(spec, min=1e-5)) - 20 + 100) / 100, 0.0, 1.0)
    return mel


def griffin_lim(mel, params):
    n_fft, hop, win = int(params["n_fft"]), int(params["hop_samples"]), int(params["win_length"])
    magnitude_mel = 10 ** ((torch.from_numpy(mel).double() * 100 - 100 + 20) / 20)
    inverse = torchaudio.transforms.InverseMelScale(n_stft=n_fft // 2 + 1, n_mels=int(params["n_mels"]),
                                                    sample_rate=int(params["sample_rate"]), f_min=float(params["f_min"]),
                                                    f_max=float(params["f_max"])).double()
    linear = inverse(magnitude_mel)
    # lmnt's spectrogram is window-normalised (normalized=True): undo it before the phase search.
    linear = linear * torch.hann_window(win, dtype=torch.float64).pow(2).sum().sqrt()
    torch.manual_seed(0)
    gl = torchaudio.transforms.GriffinLim(n_fft=n_fft, n_iter=64, win_length=win, hop_length=hop, power=1.0,
                                          length=(mel.shape[1] - 1) * hop).double()
    return gl(linear).float().numpy()


def mel_cepstra(audio, rate):
    out = pipeline(audio.astype("<f4").tobytes(), ["frame", "-l", 1024, "-p", 256], ["window", "-l", 1024],
                   ["mcep", "-l", 1024, "-m", 34, "-a", ALPHAS.get(rate, 0.45), "-e", 1e-8])
    return np.frombuffer(out, dtype=np.float32).astype(np.float64).reshape(-1, 35)


def rapt(audio, rate):
    out = pipeline((audio * 32768).astype("<f4").tobytes(),
                   ["pitch", "-a", 0, "-s", rate / 1000, "-p", 256, "-L", 60, "-H", 400, "-o", 1])
    return np.frombuffer(out, dtype=np.float32).astype(np.float64)


def log_energies_db(x):
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(x.astype(np.float64), (0, 1024)), 1024)[::256]
    return 10 * np.log10((frames ** 2).sum(axis=1) + 1e-10)


def score(ref, out, mel_of, rate, mr_stft):
    n = min(len(ref), len(out))
    ref, out = ref[:n], out[:n]
    total = mr_stft(torch.from_numpy(out)[None, None], torch.from_numpy(ref)[None, None])
    c_ref, c_out = mel_cepstra(ref, rate), mel_cepstra(out, rate)
    f_ref, f_out = rapt(ref, rate), rapt(out, rate)
    m = min(len(f_ref), len(f_out))
    f_ref, f_out = f_ref[:m], f_out[:m]
    both = (f_ref > 0) & (f_out > 0)
    # Frames that run past the end (zero-padded) are left out; silent: 40 dB below the loudest.
    e_ref, e_out = log_energies_db(ref)[:-4], log_energies_db(out)[:-4]
    quarter = int(0.25 * rate) // 256
    middle = slice(max(0, len(e_ref) // 2 - quarter // 2), len(e_ref) // 2 - quarter // 2 + quarter)
    position = np.arange(len(e_ref))
    silent = e_ref < e_ref.max() - 40
    regions = {"start": position < quarter, "middle": (position >= quarter) & (position < len(e_ref) - quarter),
               "end": position >= len(e_ref) - quarter}

    def silence_level(region):  # the output's energy where the original is silent, dB re its loudest frame
        chosen = (e_out - e_ref.max())[region & silent]
        return float(chosen.mean()) if len(chosen) else math.nan
    return {
        "mr_stft": float(total),
        "log_mel_l1_db": float(100 * (mel_of(ref) - mel_of(out)).abs().mean()),
        "envelope_correlation": envelope_correlation(ref, out),
        "mcd_db": float((10 / math.log(10) * np.sqrt(2 * ((c_ref[:, 1:] - c_out[:, 1:]) ** 2).sum(axis=1))).mean()),
        "log_f0_rmse_cents": float(np.sqrt(np.mean((1200 * np.log2(f_out[both] / f_ref[both])) ** 2))) if both.any() else math.nan,
        "vuv_error": float(np.mean((f_ref > 0) != (f_out > 0))),
        "start_abs_db": float(np.abs(e_out - e_ref)[:quarter].mean()),
        "middle_abs_db": float(np.abs(e_out - e_ref)[middle].mean()),
        "silence_start_db": silence_level(regions["start"]),
        "silence_middle_db": silence_level(regions["middle"]),
        "silence_end_db": silence_level(regions["end"]),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prep")
    parser.add_argument("systems", nargs="*", help="NAME=WAV_DIR")
    parser.add_argument("--split", default="valid", choices=["train", "valid"])
    parser.add_argument("--griffin-lim", action="store_true")
    args = parser.parse_intermixed_args()
    items, params = read_split(args.prep, args.split)
    if not items:
        sys.exit(f"{args.prep}: no utterances in split {args.split}")
    rate = int(params["sample_rate"])
    mel_of = lmnt_mel(params)
    mr_stft = MultiResolutionSTFTLoss(fft_sizes=[512, 1024, 2048], hop_sizes=[50, 120, 240], win_lengths=[240, 600, 1200])
    systems = [s.split("=", 1) for s in args.systems]
    if args.griffin_lim:
        systems.append(["griffin-lim", None])
    rows = {}
    for name, folder in systems:
        scores = []
        for utterance, audio, mel in items:
            if folder is None:
                out = griffin_lim(mel, params)
            else:
                out = read_wav(os.path.join(folder, utterance + ".wav"))
            scores.append(score(audio, out, mel_of, rate, mr_stft))
        rows[name] = {k: float(np.nanmean([s[k] for s in scores])) for k in scores[0]}
    keys = list(next(iter(rows.values())).keys())
    print(f"{len(items)} utterances of {args.prep} ({args.split}); mean over utterances")
    print("| system | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{row[k]:.3f}" for k in keys) + " |")


if __name__ == "__main__":
    sys.exit(main())
