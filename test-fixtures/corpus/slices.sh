#!/usr/bin/env bash
# Splits train.txt into three line-aligned thirds (slices/train-{0,1,2}.txt) for recipes/bam.yaml.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$here/slices"
n=$(wc -l < "$here/train.txt")
per=$(( (n + 2) / 3 ))
split -d -a 1 -l "$per" "$here/train.txt" "$here/slices/train-"
for i in 0 1 2; do mv "$here/slices/train-$i" "$here/slices/train-$i.txt"; done
