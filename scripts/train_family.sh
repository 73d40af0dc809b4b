#!/usr/bin/env bash
# Train the bundled family one model at a time (README, "Bundled models"), continuing each from its last
# checkpoint when run again:
#   scripts/train_family.sh ROOT [ARCH ...]        # default: the paper's Fig. 6 nets, ResNets first
# Every member: `resnet-explorer train --arch ARCH --dataset fashion-mnist --epochs 20 --threads 1
# --cpu-bf16 --out ROOT/ARCH`, the ResNets with --zero-init-residual (a plain net has no residual branch to
# start at zero; why the ResNets need it on this data: README and scripts/family_probes.sh). --cpu-bf16:
# bf16 autocast, 2.3x the images/s of float32 with one thread on an AVX512-BF16/AMX CPU (README); on a CPU
# without bf16 support drop it, and for every member, so that the family stays trained alike.
# Two of these may run side by side, one core each: a member being trained by one is skipped by the other
# (flock on ROOT/ARCH.lock), so no run directory is ever trained twice at once.
# Then: python scripts/make_bundled_models.py --family ROOT
set -u
ROOT=${1:?usage: train_family.sh ROOT [ARCH ...]}
shift
ARCHS=${*:-"resnet56 resnet20 resnet110 resnet44 resnet32 plain56 plain20 plain44 plain32"}
mkdir -p "$ROOT"
for arch in $ARCHS; do
  out=$ROOT/$arch
  metrics=$out/$arch/metrics.csv
  if [ -f "$metrics" ] && [ "$(($(wc -l < "$metrics") - 1))" -ge 20 ]; then
    echo "$(date -Is) $arch done"; continue
  fi
  case $arch in resnet*) init=(--zero-init-residual --cpu-bf16);; *) init=(--cpu-bf16);; esac
  if [ -f "$out/config.json" ]; then how=(--resume); else how=("${init[@]}"); fi  # a resumed run keeps its config
  echo "$(date -Is) start $arch ${how[*]}"
  flock -n -E 75 "$out.lock" resnet-explorer train --arch "$arch" --dataset fashion-mnist --epochs 20 \
    --threads 1 --out "$out" "${how[@]}"
  rc=$?
  [ $rc -eq 75 ] && echo "$(date -Is) $arch is being trained by another runner: skipped"
  echo "$(date -Is) $arch ended with exit code $rc"
done
