#!/usr/bin/env bash
# Launches this brainsynth cluster job with torchrun (PyTorch DistributedDataParallel).
#   ./launch.sh                      one node, every GPU (one process each, NCCL); no GPU: CPU with gloo
#   NPROC_PER_NODE=2 ./launch.sh     a chosen number of processes (e.g. 2 CPU processes to try it out)
#   NNODES=4 NODE_RANK=$i MASTER_ADDR=host0 MASTER_PORT=29500 ./launch.sh   on each of several nodes
# Arguments go to train.py, e.g. `./launch.sh --max-steps 5` or `./launch.sh --resume`.
# PYTHON picks the interpreter (default python3); torchrun runs as `$PYTHON -m torch.distributed.run`.
set -euo pipefail
JOB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
if [[ -z "${NPROC_PER_NODE:-}" ]]; then
  NPROC_PER_NODE="$("$PYTHON" -c 'import torch; print(torch.cuda.device_count() or 1)')"
fi
NNODES="${NNODES:-1}"
if [[ "$NNODES" == "1" && -z "${MASTER_ADDR:-}" ]]; then
  RDZV=(--standalone)
else
  RDZV=(--nnodes "$NNODES" --node_rank "${NODE_RANK:-0}" --master_addr "${MASTER_ADDR:?set MASTER_ADDR for several nodes}" --master_port "${MASTER_PORT:-29500}")
fi
# Each rank's stdout also goes to output/torchrun-logs/ (tee). Explicit values, because torch 1.13 on
# Python 3.11 cannot parse its own default "--redirects 0".
mkdir -p "$JOB/output/torchrun-logs"
set -x
exec "$PYTHON" -m torch.distributed.run "${RDZV[@]}" --nproc_per_node "$NPROC_PER_NODE" \
  --log_dir "$JOB/output/torchrun-logs" --redirects 1 --tee 1 \
  "$JOB/train.py" --job "$JOB" "$@"
