#!/usr/bin/env python3
"""Benchmarks diffwave-cpp against lmnt-com/diffwave (PyPI `diffwave`) on this machine, both in
one invocation, alternating, and prints the ratio (ours / lmnt) with its spread.

    ~/.cache/diffwave-cpp/venv/bin/python bench/compare.py [train] [sample] [prep] [quality] [--rounds 3]
    python3 bench/compare.py train sample --device cuda --prep DIR     # on a GPU machine

Needs the venv made by tests/run.sh plus `pip install --no-deps diffwave==0.1.7 tqdm`, and the
built binaries in build/bin. The reference runs in separate processes with the same number of
threads as ours; start-up is excluded from training and sampling throughput (timed windows after
warm-up), included for prep (end-to-end files per second). Peak memory is each process's max RSS.
`quality` trains the tiny shape for --quality-seconds on each side (lmnt's own learner, ours with
lmnt's recipe and ours with configs/demo.yaml) and scores the held-out outputs (bench/quality.py's
reference metrics) and each model's conditioning gain (one computation, lmnt's DiffWave, for all).
On a GPU (--device cuda) training compares each of our precisions/kernels with lmnt's fp32 and
`--fp16` (autocast + GradScaler) loops, and sampling adds our --cuda-graphs and bf16 variants.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("DIFFWAVE_BIN", os.path.join(ROOT, "build", "bin"))  # bench/gpu_kit.sh points it elsewhere
THREADS = os.cpu_count()
# --tuned-lmnt: the glibc settings diffwave-train/-sample apply to themselves (src/common/host_memory.cpp),
# given to lmnt's processes too, to show how much of the ratio is the allocator.
TUNED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(2**31 - 1)}
LMNT_ENV = None
MODELS = ["tiny", "BASE"]


class CommandFailed(Exception):
    pass


def try_variant(results, variant, cmd, env=None):
    """Runs one of several variants; a failing one is reported and dropped, the others go on."""
    try:
        return run(cmd, env)
    except CommandFailed as failure:
        print(f"variant '{variant}' dropped: {failure}", flush=True)
        results.pop(variant)
        return None


def run(cmd, env=None):
    """Runs a command; returns (seconds, output, peak RSS in MiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise CommandFailed(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{out[-3000:]}")
    return time.perf_counter() - start, out, usage.ru_maxrss / 1024


def summary(name, ours, theirs, unit, mem_ours, mem_theirs):
    ratios = [o / t for o, t in zip(ours, theirs)]
    spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
    print(f"{name:<34} ours {statistics.median(ours):10.3g} {unit:<10} lmnt {statistics.median(theirs):10.3g} "
          f"{unit:<10} ratio {statistics.median(ratios):.2f}x (range {spread} over {len(ratios)} rounds) | peak RSS "
          f"ours {max(mem_ours):.0f} MiB, lmnt {max(mem_theirs):.0f} MiB", flush=True)
    return statistics.median(ratios)


LMNT_TRAIN = r"""
import sys, time, numpy as np, torch, torch.nn as nn
from diffwave.model import DiffWave
from diffwave.params import AttrDict, params as base
torch.set_num_threads(int(sys.argv[1]))
C, L, cycle, B, crop, steps = map(int, sys.argv[2:8])
device, fp16 = torch.device(sys.argv[8]), sys.argv[9] == "fp16"
torch.backends.cudnn.benchmark = True  # as lmnt's learner.train() sets it
p = AttrDict(base); p.override(dict(residual_channels=C, residual_layers=L, dilation_cycle_length=cycle))
torch.manual_seed(0)
model = DiffWave(p).to(device)
opt = torch.optim.Adam(model.parameters(), lr=p.learning_rate)
noise_level = torch.tensor(np.cumprod(1 - np.array(p.noise_schedule)).astype('float32'), device=device)
loss_fn = nn.L1Loss()
# lmnt's learner with --fp16: fp16 autocast around forward and loss, GradScaler around the update
autocast = torch.autocast(device.type, dtype=torch.float16, enabled=fp16)
scaler = torch.amp.GradScaler(device.type, enabled=fp16)
T = crop * p.hop_samples
def step():
    audio = torch.rand(B, T, device=device) * 2 - 1   # made on the device: no loader or copy for lmnt
    spec = torch.rand(B, p.n_mels, crop, device=device)
    for q in model.parameters(): q.grad = None
    t = torch.randint(0, len(p.noise_schedule), [B], device=device)
    scale = noise_level[t].unsqueeze(1)
    noise = torch.randn_like(audio)
    noisy = scale ** 0.5 * audio + (1.0 - scale) ** 0.5 * noise
    with autocast:
        loss = loss_fn(noise, model(noisy, spec, t).squeeze(1))
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    nn.utils.clip_grad_norm_(model.parameters(), 1e9)
    scaler.step(opt)
    scaler.update()
    if torch.isnan(loss).any(): raise RuntimeError("NaN loss")   # lmnt's learner checks every step
def sync():
    if device.type == "cuda": torch.cuda.synchronize()
for _ in range(steps): step()          # warm-up, as many steps as timed
sync()
start = time.perf_counter()
for _ in range(steps): step()
sync()
print(f"samples/s {B * T * steps / (time.perf_counter() - start):.1f}")
"""

LMNT_PREP = r"""
import sys, wave, numpy as np, torch, torchaudio
from argparse import Namespace
def load_wav(path):  # torchaudio 2.x dropped load_wav; same values: int16 as float, [channels, samples]
    with wave.open(path) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32)
        return torch.from_numpy(x.reshape(-1, w.getnchannels()).T.copy()), w.getframerate()
torchaudio.load_wav = load_wav
from diffwave.preprocess import main
main(Namespace(dir=sys.argv[1]))
"""


def make_corpus(work, utterances):
    corpus = os.path.join(work, "corpus")
    subprocess.run([os.path.join(ROOT, "launch", "make_demo_corpus.sh"), corpus, str(utterances)], check=True)
    # lmnt's preprocess demands 22050 Hz input: resample once with sox (high quality).
    for name in os.listdir(os.path.join(corpus, "wavs")):
        path = os.path.join(corpus, "wavs", name)
        subprocess.run(["sox", path, "-r", "22050", path + ".tmp.wav", "rate", "-h"], check=True)
        os.replace(path + ".tmp.wav", path)
    return corpus


# (name, config, lmnt's (channels, layers, cycle), batch, crop frames, timed steps)
CPU_TRAIN = [("tiny", "configs/tiny.yaml", (16, 6, 3), 4, 16, 20), ("BASE (batch 4)", "configs/base.yaml", (64, 30, 10), 4, 62, 3)]
GPU_TRAIN = [("tiny (batch 16)", "configs/tiny.yaml", (16, 6, 3), 16, 62, 100),
             ("BASE (batch 16)", "configs/base.yaml", (64, 30, 10), 16, 62, 60)]
# Our variants on a GPU: --set overrides; lmnt's: its fp32 loop and its --fp16 (the goal's yardstick).
GPU_OURS = {"fp32": [], "bf16": ["train.precision=bf16"], "fp32 graphs": ["train.cuda_graphs=true"],
            "bf16 graphs": ["train.precision=bf16", "train.cuda_graphs=true"]}
GPU_LMNT = ["fp16", "fp32"]


def bench_train(work, prep, rounds, device):
    cases = [c for c in (GPU_TRAIN if device == "cuda" else CPU_TRAIN) if c[0].split()[0] in MODELS]
    ours_variants = GPU_OURS if device == "cuda" else {"": []}
    lmnt_variants = GPU_LMNT if device == "cuda" else ["fp32"]
    for name, config, (C, L, cycle), batch, crop, steps in cases:
        ours = {v: [] for v in ours_variants}
        theirs = {v: [] for v in lmnt_variants}
        mo, mt = {v: [] for v in ours_variants}, {v: [] for v in lmnt_variants}
        for _ in range(rounds):
            for variant in list(ours):  # a variant that failed has left `ours`
                run_dir = os.path.join(work, "run")
                shutil.rmtree(run_dir, ignore_errors=True)
                extra = [a for kv in ours_variants[variant] for a in ("--set", kv)]
                done = try_variant(ours, variant, [
                    os.path.join(BIN, "diffwave-train"), "--config", config, "--data", prep, "--run-dir", run_dir,
                    "--max-steps", str(2 * steps), "--log-interval", str(steps), "--checkpoint-interval", "1000000",
                    "--set", f"train.batch_size={batch}", "--set", f"train.crop_mel_frames={crop}",
                    "--set", "train.validation_interval=0", "--set", "train.quality_interval=0",
                    "--set", f"train.device={device}"] + extra)
                if done is None:
                    continue
                _, out, mem = done
                ours[variant].append(float(re.findall(r"([\d.]+) samples/s", out)[-1]))  # the second window: after warm-up
                if device == "cuda":  # data and communication waits, per variant
                    print(f"  ours {variant}: {[l for l in out.splitlines() if l.startswith('step')][-1]}", flush=True)
                mo[variant].append(mem)
            for variant in lmnt_variants:
                _, out, mem = run([sys.executable, "-c", LMNT_TRAIN, str(THREADS), str(C), str(L), str(cycle), str(batch),
                                   str(crop), str(steps), device, variant], env=LMNT_ENV)
                theirs[variant].append(float(re.findall(r"samples/s ([\d.]+)", out)[-1]))
                mt[variant].append(mem)
        for ov in ours:
            for lv in lmnt_variants:
                label = f"train {name}" + (f" ours {ov} / lmnt {lv}" if device == "cuda" else "")
                summary(label, ours[ov], theirs[lv], "samples/s", mo[ov], mt[lv])


LMNT_SAMPLE = r"""
import json, sys, time, h5py, numpy as np, torch
import diffwave.params as P
from diffwave.inference import predict
torch.set_num_threads(int(sys.argv[1]))
model_pt, prep, schedule, device, split = sys.argv[2], sys.argv[3], sys.argv[4], torch.device(sys.argv[5]), sys.argv[6]
params = torch.load(model_pt, weights_only=True)["params"]
P.params.override(params)  # predict builds DiffWave(base params): make those the model's
manifest = json.load(open(prep + "/manifest.json"))
mels = []
for shard in manifest["shards"]:
    with h5py.File(prep + "/" + shard["path"]) as f:
        valid, offs, frames = f["index/validation"][:], f["index/mel_offset"][:], f["index/mel_frames"][:]
        mels += [torch.from_numpy(f["mel"][o:o + n].T.copy()) for v, o, n in zip(valid, offs, frames) if v or split == "all"]
fast = schedule == "fast"
def sync():
    if device.type == "cuda": torch.cuda.synchronize()
predict(mels[0][:, :10], model_dir=model_pt, device=device, fast_sampling=fast)  # warm-up
sync()
audio_seconds, start = 0.0, time.perf_counter()
for mel in mels:
    audio, sr = predict(mel, model_dir=model_pt, device=device, fast_sampling=fast)
    audio_seconds += audio.shape[-1] / sr
sync()
print(f"real-time factor {audio_seconds / (time.perf_counter() - start):.4f}")
"""


GPU_SAMPLE = {"fp32": [], "fp32 graphs": ["--cuda-graphs"], "bf16": ["--precision", "bf16"],
              "bf16 graphs": ["--precision", "bf16", "--cuda-graphs"]}


def bench_sample(work, prep, rounds, device):
    cases = [("tiny", "configs/tiny.yaml", ["fast", "full"]), ("BASE", "configs/base.yaml", ["fast"])]
    if device == "cuda":  # the goal's case first
        cases = [("BASE", "configs/base.yaml", ["fast", "full"]), ("tiny", "configs/tiny.yaml", ["fast"])]
    variants = GPU_SAMPLE if device == "cuda" else {"": []}
    # On a GPU all utterances (both splits): our timer includes the first batch's warm-up.
    split = "all" if device == "cuda" else "valid"
    for name, config, schedules in [c for c in cases if c[0] in MODELS]:
        run_dir = os.path.join(work, "sample_run_" + name.lower())
        shutil.rmtree(run_dir, ignore_errors=True)
        run([os.path.join(BIN, "diffwave-train"), "--config", config, "--data", prep, "--run-dir", run_dir,
             "--max-steps", "1", "--set", "train.batch_size=2", "--set", "train.validation_interval=0",
             "--set", "train.quality_interval=0", "--set", f"train.device={device}"])
        model_pt = os.path.join(work, f"{name}.pt")
        run([os.path.join(BIN, "diffwave-export"), "--checkpoint", run_dir, "--output", model_pt])
        for schedule in schedules:
            ours, mo = {v: [] for v in variants}, {v: [] for v in variants}
            extras = dict(variants)
            theirs, mt = [], []
            for _ in range(rounds):
                for variant in list(ours):
                    extra = extras[variant]
                    out_dir = os.path.join(work, "samples")
                    shutil.rmtree(out_dir, ignore_errors=True)
                    done = try_variant(ours, variant, [
                        os.path.join(BIN, "diffwave-sample"), "--checkpoint", run_dir, "--mel", prep, "--output", out_dir,
                        "--schedule", schedule, "--chunk-seconds", "0", "--threads", str(THREADS), "--device", device]
                        + ([] if split == "all" else ["--split", split]) + [a for a in extra])
                    if done is None:
                        continue
                    _, out, mem = done
                    ours[variant].append(float(re.findall(r"real-time factor ([\d.]+)", out)[-1]))
                    mo[variant].append(mem)
                _, out, mem = run([sys.executable, "-c", LMNT_SAMPLE, str(THREADS), model_pt, prep, schedule, device, split],
                                  env=LMNT_ENV)
                theirs.append(float(re.findall(r"real-time factor ([\d.]+)", out)[-1]))
                mt.append(mem)
            for variant in ours:
                summary(f"sample {name} {schedule}" + (f" ours {variant}" if variant else ""), ours[variant], theirs,
                        "x realtime", mo[variant], mt)


# lmnt's own learner (diffwave.learner.DiffWaveLearner: its train_step, Adam, L1 loss, epoch
# checkpoints) fed random crops of the shards' training split as its collator cuts them, stopped
# after a wall-clock budget; saves {"model", "params"} for diffwave-export --from-lmnt.
LMNT_QUALITY_TRAIN = r"""
import importlib.machinery, importlib.util, random, sys, time, types, numpy as np, torch
if importlib.util.find_spec("tqdm") is None:  # lmnt's learner imports it for progress bars only
    tqdm = types.ModuleType("tqdm"); tqdm.__spec__ = importlib.machinery.ModuleSpec("tqdm", None)
    tqdm.tqdm = lambda it, **k: it; sys.modules["tqdm"] = tqdm
from diffwave.learner import DiffWaveLearner
from diffwave.model import DiffWave
from diffwave.params import AttrDict, params as base
torch.set_num_threads(int(sys.argv[1]))
prep, out_dir, seconds = sys.argv[2], sys.argv[3], float(sys.argv[4])
C, L, cycle, B, crop = map(int, sys.argv[5:10])
p = AttrDict(base); p.override(dict(residual_channels=C, residual_layers=L, dilation_cycle_length=cycle, batch_size=B,
                                     crop_mel_frames=crop))
sys.path.insert(0, "bench")
from quality import read_split  # the shards' training split, as bench/quality.py reads it
audio, mels = zip(*[(a, m) for _, a, m in read_split(prep, "train")[0] if m.shape[1] >= crop])
class Crops:  # endless random crops, each epoch one batch per B utterances, until the budget is spent
    def __len__(self): return max(1, len(audio) // B)
    def __iter__(self):
        for _ in range(len(self)):
            if time.perf_counter() > deadline: raise TimeoutError
            a, m = [], []
            for i in random.sample(range(len(audio)), B):
                start = random.randint(0, mels[i].shape[1] - crop)
                piece = audio[i][start * p.hop_samples:(start + crop) * p.hop_samples]  # padded at the end, as lmnt's collator does
                a.append(torch.from_numpy(np.pad(piece, (0, crop * p.hop_samples - len(piece)))))
                m.append(torch.from_numpy(mels[i][:, start:start + crop].copy()))
            yield {"audio": torch.stack(a), "spectrogram": torch.stack(m)}
random.seed(0); torch.manual_seed(0)
model = DiffWave(p)
learner = DiffWaveLearner(out_dir, model, Crops(), torch.optim.Adam(model.parameters(), lr=p.learning_rate), p)
deadline = time.perf_counter() + seconds
try:
    learner.train()
except TimeoutError:
    pass
torch.save({"model": dict(model.state_dict()), "params": dict(p), "step": learner.step}, out_dir + "/final.pt")
print(f"lmnt steps {learner.step}")
"""

# The conditioning gain, computed alike for both models with lmnt's DiffWave: crops of 16 frames
# every 16 frames of each held-out utterance, a fixed noise and a mid-range step per crop, the loss
# with each utterance's own mel and with the next utterance's; prints other / own - 1.
LMNT_GAIN = r"""
import sys, numpy as np, torch
from diffwave.model import DiffWave
from diffwave.params import AttrDict, params as base
torch.set_num_threads(int(sys.argv[1]))
prep, crop = sys.argv[3], 16
state = torch.load(sys.argv[2], weights_only=True)
p = AttrDict(base); p.override(state["params"])
model = DiffWave(p); model.load_state_dict(state["model"]); model.eval()
level = torch.tensor(np.cumprod(1 - np.array(p.noise_schedule)).astype(np.float32))
sys.path.insert(0, "bench")
from quality import read_split
audio, mels = zip(*[(a, m) for _, a, m in read_split(prep, "valid")[0]])
g = torch.Generator().manual_seed(7)
own = other = 0.0
steps = len(p.noise_schedule)
with torch.no_grad():
    for u in range(len(audio)):
        partner = mels[(u + 1) % len(audio)]
        for start in range(0, min(mels[u].shape[1], partner.shape[1]) - crop + 1, crop):
            piece = audio[u][start * p.hop_samples:(start + crop) * p.hop_samples]
            x = torch.from_numpy(np.pad(piece, (0, crop * p.hop_samples - len(piece))))[None]
            t = torch.randint(steps // 4, 3 * steps // 4, [1], generator=g)
            noise = torch.randn(x.shape, generator=g)
            noisy = level[t] ** 0.5 * x + (1 - level[t]) ** 0.5 * noise
            for mel, acc in ((mels[u], "own"), (partner, "other")):
                loss = (model(noisy, torch.from_numpy(mel[:, start:start + crop].copy())[None], t).squeeze(1) - noise).abs().mean()
                if acc == "own": own += float(loss)
                else: other += float(loss)
print(f"conditioning gain {other / own - 1:.5f}")
"""


def bench_quality(work, prep, seconds):
    """Equal wall time, the tiny shape: lmnt's learner, ours with lmnt's recipe (configs/tiny.yaml) and
    ours with the demo recipe (configs/demo.yaml); then each model vocodes the held-out split with our
    sampler (fast schedule; the EMA weights for ours, lmnt keeps none) and is scored."""
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import quality
    items, params = quality.read_split(prep, "valid")
    mel_of = quality.lmnt_mel(params)
    mr_stft = quality.MultiResolutionSTFTLoss(fft_sizes=[512, 1024, 2048], hop_sizes=[50, 120, 240],
                                              win_lengths=[240, 600, 1200])
    models = {}
    for name, config in (("ours, lmnt's recipe (tiny.yaml)", "configs/tiny.yaml"), ("ours, demo recipe (demo.yaml)", "configs/demo.yaml")):
        run_dir = os.path.join(work, "quality_" + os.path.basename(config).split(".")[0])
        shutil.rmtree(run_dir, ignore_errors=True)
        try:
            run([os.path.join(BIN, "diffwave-train"), "--config", config, "--data", prep, "--run-dir", run_dir,
                 "--max-time", str(seconds), "--log-interval", "100000", "--set", "train.validation_interval=0",
                 "--set", "train.quality_interval=0", "--set", "train.max_steps=1000000"])
        except CommandFailed as stopped:  # --max-time ends with exit 75 after its checkpoint
            if "(75)" not in str(stopped):
                raise
        models[name] = (run_dir, config)
    lmnt_dir = os.path.join(work, "quality_lmnt")
    shutil.rmtree(lmnt_dir, ignore_errors=True)
    _, out, _ = run([sys.executable, "-c", LMNT_QUALITY_TRAIN, str(THREADS), prep, lmnt_dir, str(seconds), "16", "6", "3", "4", "16"])
    print(f"lmnt's learner: {out.strip().splitlines()[-1]} in {seconds} s", flush=True)
    run([os.path.join(BIN, "diffwave-export"), "--from-lmnt", os.path.join(lmnt_dir, "final.pt"), "--config",
         "configs/tiny.yaml", "--output", os.path.join(lmnt_dir, "run")])
    models["lmnt's learner (its params)"] = (os.path.join(lmnt_dir, "run"), "configs/tiny.yaml")
    print(f"{len(items)} held-out utterances, fast schedule, {seconds} s of training each on {THREADS} threads", flush=True)
    for name, (run_dir, _) in models.items():
        out_dir, model_pt = os.path.join(work, "quality_samples"), os.path.join(work, "quality_model.pt")
        shutil.rmtree(out_dir, ignore_errors=True)
        run([os.path.join(BIN, "diffwave-sample"), "--checkpoint", run_dir, "--mel", prep, "--split", "valid",
             "--output", out_dir, "--threads", str(THREADS)])
        run([os.path.join(BIN, "diffwave-export"), "--checkpoint", run_dir, "--output", model_pt])
        _, gain, _ = run([sys.executable, "-c", LMNT_GAIN, str(THREADS), model_pt, prep])
        scores = [quality.score(audio, quality.read_wav(os.path.join(out_dir, u + ".wav")), mel_of,
                                int(params["sample_rate"]), mr_stft) for u, audio, _ in items]
        mean = {k: statistics.fmean(s[k] for s in scores) for k in ("mr_stft", "envelope_correlation", "log_mel_l1_db")}
        print(f"quality {name:<34} MR-STFT {mean['mr_stft']:.3f} | envelope correlation {mean['envelope_correlation']:.3f} | "
              f"log-mel L1 {mean['log_mel_l1_db']:.2f} dB | {gain.strip()}", flush=True)


def bench_prep(work, corpus, rounds):
    files = len(os.listdir(os.path.join(corpus, "wavs")))
    ours, theirs, mo, mt = [], [], [], []
    for _ in range(rounds):
        out_dir = os.path.join(work, "prep_bench")
        shutil.rmtree(out_dir, ignore_errors=True)
        env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        seconds, _, mem = run(["mpirun", "-np", str(THREADS), "--oversubscribe", "--bind-to", "none",
                               os.path.join(BIN, "diffwave-prep"), "--input", corpus, "--output", out_dir], env=env)
        ours.append(files / seconds)
        mo.append(mem)
        lmnt_dir = os.path.join(work, "lmnt_prep")
        shutil.rmtree(lmnt_dir, ignore_errors=True)
        shutil.copytree(os.path.join(corpus, "wavs"), lmnt_dir)
        seconds, _, mem = run([sys.executable, "-c", LMNT_PREP, lmnt_dir])
        theirs.append(files / seconds)
        mt.append(mem)
    summary(f"prep ({files} files, {THREADS} cores)", ours, theirs, "files/s", mo, mt)


def main():
    try:
        bench()
    except CommandFailed as failure:
        sys.exit(str(failure))


def bench():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="*", default=["train", "sample", "prep"], choices=["train", "sample", "prep", "quality"],
                        help="quality is not in the default set: it trains each side for --quality-seconds")
    parser.add_argument("--quality-seconds", type=int, default=240, help="wall-clock training budget per side (quality)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--utterances", type=int, default=60)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where both sides train and sample")
    parser.add_argument("--models", default="tiny,BASE", help="which configs to run (train, sample): tiny, BASE or both")
    parser.add_argument("--prep", help="an existing diffwave-prep output to use instead of a new demo corpus (train, sample)")
    parser.add_argument("--tuned-lmnt", action="store_true",
                        help="run lmnt with the allocator settings ours applies to itself (MALLOC_MMAP/TRIM_THRESHOLD_)")
    args = parser.parse_args()
    global LMNT_ENV, MODELS
    MODELS = args.models.split(",")
    if args.tuned_lmnt:
        LMNT_ENV = dict(os.environ, **TUNED_MALLOC)
    if args.prep and "prep" in args.what:
        parser.error("--prep gives a prepared corpus: it cannot be combined with the prep benchmark")
    # The GPU's name from nvidia-smi: a CUDA context in this process would share the GPU with the runs.
    gpu = ("; GPU " + subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                     text=True).stdout.strip()) if args.device == "cuda" else ""
    print(f"machine: {os.cpu_count()} cores; threads per side: {THREADS}; torch {__import__('torch').__version__}{gpu}",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="diffwave-bench-") as work:
        if args.prep:
            prep = os.path.abspath(args.prep)
        else:
            corpus = make_corpus(work, args.utterances)
            prep = os.path.join(work, "prep")
            run([os.path.join(BIN, "diffwave-prep"), "--input", corpus, "--output", prep])
        if "train" in args.what:
            bench_train(work, prep, args.rounds, args.device)
        if "sample" in args.what:
            bench_sample(work, prep, args.rounds, args.device)
        if "prep" in args.what:
            bench_prep(work, corpus, args.rounds)
        if "quality" in args.what:
            bench_quality(work, prep, args.quality_seconds)


if __name__ == "__main__":
    main()
