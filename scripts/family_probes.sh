#!/usr/bin/env bash
# Why does resnet56 train worse than resnet20 on Fashion-MNIST at the paper's recipe? (README, "Bundled
# models"). Short runs on a 10k-image subset, one thread each; each writes OUT/<name>.log.
#   scripts/family_probes.sh OUT            # all probes, one after another (about 2 h on one idle core)
set -eu
OUT=${1:?usage: family_probes.sh OUT}
mkdir -p "$OUT"
run() {
  name=$1; shift
  resnet-explorer train --dataset fashion-mnist --subset 10000 --threads 1 --out "$OUT/$name" --overwrite "$@" \
    > "$OUT/$name.log" 2>&1
  tail -n 1 "$OUT/$name.log"
}
early="--epochs 2 --schedule constant"
run r20-base $early --arch resnet20                                     # lr 0.1, the paper's
run r56-base $early --arch resnet56
run r56-warm $early --arch resnet56 --warmup-iters 78                   # one epoch at 0.01 first
run r56-zero $early --arch resnet56 --zero-init-residual                # residual branches start at zero
run r20-lr02 $early --arch resnet20 --lr 0.02
run r56-lr02 $early --arch resnet56 --lr 0.02
run r20-zero-10ep --epochs 10 --arch resnet20 --zero-init-residual      # the step schedule, 10 epochs
run r56-zero-10ep --epochs 10 --arch resnet56 --zero-init-residual
run r20-base-10ep --epochs 10 --arch resnet20
