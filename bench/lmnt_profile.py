"""lmnt's training step (BASE, batch 16, crop 62) on a GPU under torch.profiler: its top kernels
per step, to set against `diffwave-train --set train.profile_steps=5`.

    python3 bench/lmnt_profile.py fp16|fp32      (needs PyPI diffwave 0.1.7 importable)
"""
import sys, time, numpy as np, torch, torch.nn as nn
from diffwave.model import DiffWave
from diffwave.params import AttrDict, params as base
fp16 = sys.argv[1] == "fp16"
torch.backends.cudnn.benchmark = True
p = AttrDict(base)
dev = torch.device("cuda")
model = DiffWave(p).to(dev)
opt = torch.optim.Adam(model.parameters(), lr=p.learning_rate)
nl = torch.tensor(np.cumprod(1 - np.array(p.noise_schedule)).astype('float32'), device=dev)
scaler = torch.amp.GradScaler("cuda", enabled=fp16)
B, T = 16, 62 * 256
def step():
    audio = torch.rand(B, T, device=dev) * 2 - 1
    spec = torch.rand(B, 80, 62, device=dev)
    for q in model.parameters(): q.grad = None
    t = torch.randint(0, 50, [B], device=dev)
    s = nl[t].unsqueeze(1)
    noise = torch.randn_like(audio)
    noisy = s ** 0.5 * audio + (1 - s) ** 0.5 * noise
    with torch.autocast("cuda", dtype=torch.float16, enabled=fp16):
        loss = nn.L1Loss()(noise, model(noisy, spec, t).squeeze(1))
    scaler.scale(loss).backward(); scaler.unscale_(opt)
    nn.utils.clip_grad_norm_(model.parameters(), 1e9)
    scaler.step(opt); scaler.update()
    if torch.isnan(loss).any(): raise RuntimeError
for _ in range(15): step()
torch.cuda.synchronize()
from torch.profiler import profile, ProfilerActivity
with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
    t0 = time.perf_counter()
    for _ in range(5): step()
    torch.cuda.synchronize()
    wall = time.perf_counter() - t0
print(f"lmnt {'fp16' if fp16 else 'fp32'}: {wall / 5 * 1e3:.2f} ms/step wall under the profiler")
print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=18, max_name_column_width=70))
