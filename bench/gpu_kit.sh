#!/bin/bash
# Runs the GPU checks and benchmarks on a GPU machine that has PyTorch (the same version) but not
# this build's libraries, from binaries built elsewhere.
#
#   bench/gpu_kit.sh pack KIT            here: KIT gets the shared libraries build/bin needs beyond
#                                        glibc, libstdc++, LibTorch, CUDA and NCCL, lmnt's diffwave
#                                        package and a 24-utterance prepared demo corpus (~40 MB)
#   bench/gpu_kit.sh run KIT STEP...     there, from the repo root with build/bin and
#                                        build/tests/test_gpu copied along; results in $OUT or KIT/out
# Steps: tests (the gpu tier), profile (BASE fp32 / bf16 / bf16 + graphs with train.profile_steps),
# lmnt-profile (lmnt fp16 and fp32 under torch.profiler), train, sample (bench/compare.py --device
# cuda; MODELS=tiny,BASE and ROUNDS=1 by default).
set -uo pipefail
cd "$(dirname "$0")/.."
what=${1:?pack or run}; kit=$(realpath -m "${2:?kit folder}"); shift 2

if [ "$what" = pack ]; then
  mkdir -p "$kit/lib" "$kit/site"
  for b in build/bin/* build/tests/test_gpu; do ldd "$b"; done | awk '/=> \//{print $3}' | sort -u |
    grep -Ev '/(libc|libm|libdl|libpthread|librt|libutil|libresolv|libstdc\+\+|libgcc_s)\.so|/ld-linux|torch/lib/|nvidia/|libcuda\.so' |
    xargs -r -I{} cp -L {} "$kit/lib/"
  site=$(python3 -c "import diffwave, os; print(os.path.dirname(diffwave.__file__))" 2>/dev/null ||
         ~/.cache/diffwave-cpp/venv/bin/python -c "import diffwave, os; print(os.path.dirname(diffwave.__file__))")
  cp -r "$site" "$kit/site/"
  rm -rf "$kit/corpus" "$kit/prep"
  launch/make_demo_corpus.sh "$kit/corpus" 24 >/dev/null && build/bin/diffwave-prep --input "$kit/corpus" --output "$kit/prep" >/dev/null
  rm -rf "$kit/corpus"
  du -sh "$kit"
  exit 0
fi

out=${OUT:-$kit/out}; mkdir -p "$out"
exec > >(tee -a "$out/log.txt") 2>&1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
torch_lib=$(python3 -c "import torch, os; print(os.path.dirname(torch.__file__) + '/lib')")
nccl_lib=$(python3 -c "import nvidia.nccl as n; print(list(n.__path__)[0] + '/lib')" 2>/dev/null)
libs="$kit/lib:$torch_lib${nccl_lib:+:$nccl_lib}"
mkdir -p "$kit/bin"
for b in build/bin/* build/tests/test_gpu; do  # wrappers: the binaries stay where they are
  printf '#!/bin/bash\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$libs" "$PWD/$b" > "$kit/bin/$(basename "$b")"
  chmod +x "$kit/bin/$(basename "$b")"
done
LD_LIBRARY_PATH=$libs ldd build/bin/diffwave-train | grep "not found" && echo "gpu_kit: libraries missing (above)"
export DIFFWAVE_BIN=$kit/bin PYTHONPATH=$kit/site${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
bench="python3 bench/compare.py --device cuda --prep $kit/prep --rounds ${ROUNDS:-1} --models ${MODELS:-tiny,BASE}"
for step in "$@"; do
  echo "=== $step $(date +%T)"
  case $step in
    tests) timeout 300 "$kit/bin/test_gpu" --gtest_output=xml:"$out/test_gpu.xml" ;;
    profile)
      for v in "fp32 false" "bf16 false" "bf16 true"; do
        set -- $v; rm -rf /tmp/gpu_kit_run
        timeout 300 "$kit/bin/diffwave-train" --config configs/base.yaml --data "$kit/prep" --run-dir /tmp/gpu_kit_run \
          --max-steps 60 --log-interval 20 --checkpoint-interval 1000000 --set train.device=cuda \
          --set train.validation_interval=0 --set train.quality_interval=0 --set train.profile_steps=5 \
          --set train.precision=$1 --set train.cuda_graphs=$2
      done ;;
    lmnt-profile) for p in fp16 fp32; do timeout 300 python3 bench/lmnt_profile.py $p; done ;;
    train) timeout ${TRAIN_S:-900} $bench train ;;
    sample) timeout ${SAMPLE_S:-900} $bench sample ;;
    *) echo "gpu_kit: unknown step '$step'" ;;
  esac
  echo "=== $step rc=$? $(date +%T)"
done
