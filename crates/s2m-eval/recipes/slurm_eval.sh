#!/usr/bin/env bash
# One shard of a sharded `s2m eval` run per Slurm array task; the parts go
# to shared storage, and a dependent job merges them into the reports.
#
#   jobid=$(sbatch --parsable --array=1-16 slurm_eval.sh DATASET RUN_DIR \
#             --method s2m --method threshold:scorer --scorer novelty)
#   sbatch --dependency=afterok:$jobid --wrap "s2m eval merge RUN_DIR/part-* --out RUN_DIR/report"
#
# RUN_DIR must be on storage every node sees. Each task writes
# RUN_DIR/part-K (its accumulators and its frames' scores, about 5 bytes a
# pixel a method); the merge reads them all and writes report.md,
# report.html and results.json, the numbers of a single run.
# S2M names the binary (default: `s2m` on PATH).
#SBATCH --job-name=s2m-eval
#SBATCH --cpus-per-task=4
#SBATCH --mem=4G
#SBATCH --time=04:00:00
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: sbatch --array=1-N $0 DATASET RUN_DIR [s2m eval options...]" >&2
    exit 2
fi
dataset=$1
run_dir=$2
shift 2
: "${SLURM_ARRAY_TASK_ID:?run this as a Slurm array job (sbatch --array=1-N)}"
count=${SLURM_ARRAY_TASK_COUNT:?this Slurm sets no SLURM_ARRAY_TASK_COUNT}
# Arrays may start at 0 or 1: the shard is the task's place in the array.
first=${SLURM_ARRAY_TASK_MIN:-1}
shard=$((SLURM_ARRAY_TASK_ID - first + 1))
mkdir -p "$run_dir"
exec "${S2M:-s2m}" eval "$dataset" --shard "$shard/$count" --out "$run_dir/part-$shard" "$@"
