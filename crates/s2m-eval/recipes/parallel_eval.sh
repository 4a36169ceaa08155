#!/usr/bin/env bash
# A sharded `s2m eval` run on one big machine with GNU parallel: N shards
# side by side, each with its share of the cores, then the merge.
#
#   parallel_eval.sh N DATASET RUN_DIR [s2m eval options...]
#
# Each shard's CPU backend gets cores/N threads (RAYON_NUM_THREADS).
# S2M names the binary (default: `s2m` on PATH).
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 N DATASET RUN_DIR [s2m eval options...]" >&2
    exit 2
fi
shards=$1
dataset=$2
run_dir=$3
shift 3
s2m=${S2M:-s2m}
threads=$(( $(nproc) / shards ))
export RAYON_NUM_THREADS=$(( threads > 0 ? threads : 1 ))
mkdir -p "$run_dir"
seq 1 "$shards" | parallel --will-cite --halt now,fail=1 --line-buffer \
    "$s2m" eval "$dataset" --shard "{}/$shards" --out "$run_dir/part-{}" "$@"
"$s2m" eval merge "$run_dir"/part-* --out "$run_dir/report"
