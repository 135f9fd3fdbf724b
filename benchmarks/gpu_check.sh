#!/usr/bin/env bash
# The GPU check (issue 18): what kerashp does on this machine's GPUs, in under 8 minutes.
#
#   benchmarks/gpu_check.sh [--dry-run] [DATA_DIR]
#
# DATA_DIR (or $DATA) is an ImageFolder CIFAR-10 subset, default ../shared/data/cifar10-mini.
# It installs nothing: it runs the checkout it lives in with ${PYTHON:-python3} (PYTHONPATH gets the
# checkout, so no `kerashp` console script is needed), in sections that each print a heading, run
# under `timeout`, and on failure print their error and let the next section run. Everything is
# also written to ${OUT:-/tmp}/gpu_check.log; a summary table ends it.
#
# --dry-run: the CPU-safe parts, tiny (a 20-images-per-class copy of the data, 1-2 epochs, LeNet-5
# only), so CI can check that every section still runs. A section that needs a GPU says it skipped.
# On a GPU it ends with the speed paths' equivalence tests and the CUDA-only tests, run there.
set -u

DRY=0
if [ "${1:-}" = "--dry-run" ]; then
    DRY=1
    shift
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=$(cd "${1:-${DATA:-$ROOT/../shared/data/cifar10-mini}}" 2>/dev/null && pwd) || {
    echo "gpu_check: no data folder at ${1:-${DATA:-$ROOT/../shared/data/cifar10-mini}} (pass DATA_DIR)" >&2
    exit 2
}
PYTHON=${PYTHON:-python3}
OUT=${OUT:-/tmp}
LOG=$OUT/gpu_check.log
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$ROOT" || exit 2
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" KERAS_BACKEND=torch NO_ALBUMENTATIONS_UPDATE=1
mkdir -p "$OUT"
exec > >(tee "$LOG") 2>&1

NAMES=() RESULTS=() SECONDS_TAKEN=()

# section NAME LIMIT_SECONDS COMMAND...: a heading, the command under `timeout`, its outcome.
section() {
    local name=$1 limit=$2 started rc outcome
    shift 2
    printf '\n== %s ==\n' "$name"
    started=$(date +%s)
    timeout --kill-after=10 "$limit" bash -c '"$@"' "$name" "$@"  # bash -c: the command may be a function here
    rc=$?
    case $rc in
        0) outcome=ok ;;
        124 | 137) outcome="timed out (${limit}s)" ;;
        *) outcome="failed (exit $rc)" ;;
    esac
    [ $rc -eq 0 ] || echo "!! $name: $outcome"
    NAMES+=("$name") RESULTS+=("$outcome") SECONDS_TAKEN+=("$(($(date +%s) - started))")
}

skipped() {  # skipped NAME WHY
    printf '\n== %s ==\n%s\n' "$1" "skipped: $2"
    NAMES+=("$1") RESULTS+=("skipped") SECONDS_TAKEN+=(0)
}

kerashp() { "$PYTHON" -m kerashp.cli "$@"; }

# The images/s kerashp trained at in the step-throughput sections (the last one measured per model),
# as input_pipeline.py's --gpu-images-per-s: the cores the feed needs to keep up with this GPU.
measured_rates() {
    sleep 1  # tee writes the log a moment after the section ends
    awk '/^== step throughput/ { on = 1; next } /^== / { on = 0 }
         on && ($1 == "lenet5" || $1 == "resnet20") { for (i = 1; i < NF; i++) if ($i == "kerashp") rate[$1] = $(i + 1) }
         END { for (model in rate) printf "%s%s=%s", (n++ ? "," : ""), model, rate[model] }' "$LOG"
}

versions() {
    "$PYTHON" - <<'EOF'
import platform, torch
print(f"python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"cuDNN {torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None}")
for index in range(torch.cuda.device_count()):
    properties = torch.cuda.get_device_properties(index)
    print(f"GPU {index}: {properties.name}, {properties.total_memory / 2**30:.0f} GiB, "
          f"bf16 {torch.cuda.is_bf16_supported()}")
if not torch.cuda.is_available():
    print("no CUDA device visible: kerashp trains on the CPU")
import keras
from kerashp.training.device import compile_unavailable
print(f"keras {keras.__version__} ({keras.backend.backend()}), torch.compile: {compile_unavailable() or 'available'}")
if torch.cuda.is_available():  # warm-up: the first CUDA context and cuDNN load are not any later section's
    x = torch.randn(64, 3, 32, 32, device="cuda")
    torch.nn.functional.conv2d(x, torch.randn(8, 3, 3, 3, device="cuda")).sum().item()
EOF
}

# A small copy (links) of the data: 20 training and 5 test images per class.
tiny_copy() {
    local split per class image
    for split in train test; do
        per=$([ $split = train ] && echo 20 || echo 5)
        for class in "$DATA/$split"/*/; do
            mkdir -p "$WORK/tiny/$split/$(basename "$class")"
            for image in $(ls "$class" | head -n "$per"); do
                ln -s "$class$image" "$WORK/tiny/$split/$(basename "$class")/$image"
            done
        done
    done
}

# One run, then the facts its summary.json records.
run_and_show() {
    local runs=$WORK/runs-$1
    shift
    kerashp train --runs-dir "$runs" "$@" || return $?
    "$PYTHON" - "$runs" <<'EOF'
import json, sys
from pathlib import Path
for summary in sorted(Path(sys.argv[1]).glob("*/summary.json")):
    s = json.loads(summary.read_text())
    history = (summary.parent / "history.csv").read_text().splitlines()
    print(f"  device {s.get('device')}, {s.get('precision')}, compiled {s.get('compiled')}, "
          f"layout {s.get('memory_layout')} {s.get('memory_layout_choice')}, test {s.get('test')}")
    print(f"  last epoch: {history[-1] if len(history) > 1 else 'none'}")
EOF
}

# Two variants trained at once (`study --jobs 2`), with the GPU each process used.
placement() {
    local watcher=""
    if command -v nvidia-smi >/dev/null; then
        (while sleep 2; do nvidia-smi --query-compute-apps=pid,gpu_bus_id,used_memory --format=csv,noheader; done) \
            >"$WORK/placement.txt" 2>/dev/null &
        watcher=$!
    fi
    kerashp study --preset lenet5 --vary optimizer.learning_rate=0.05,0.01 --jobs 2 --epochs "$1" \
        --set "data.source=folder:$2" --studies-dir "$WORK/studies" --name placement
    local rc=$?
    [ -z "$watcher" ] || kill "$watcher"
    [ -s "$WORK/placement.txt" ] && echo "GPU processes seen (pid, bus id, memory):" && sort -u "$WORK/placement.txt"
    "$PYTHON" - "$WORK/studies" <<'EOF'
import json, sys
from pathlib import Path
for summary in sorted(Path(sys.argv[1]).rglob("summary.json")):
    s = json.loads(summary.read_text())
    print(f"  {summary.parent.parent.name}: pid {s.get('pid')} on {s.get('device')}, {s.get('wall_time')} s")
EOF
    return $rc
}

# The tests that check a speed path against stock Keras or exercise CUDA-only code (those skip on a CPU).
CUDA_TESTS="tests/training/test_device.py tests/training/test_layout.py tests/training/test_fast_train_step.py
    tests/training/test_fastpath.py tests/training/test_precision.py"

export -f kerashp versions run_and_show placement
export DATA PYTHON WORK
GPU=$("$PYTHON" -c 'import torch; print(torch.cuda.device_count())' 2>/dev/null || echo 0)
echo "gpu_check $(date -u +%FT%TZ) on $(hostname), $GPU GPU(s), data $DATA$([ $DRY = 1 ] && echo ', --dry-run')"

section "versions and warm-up" $([ $DRY = 1 ] && echo 120 || echo 45) versions

if [ "$DRY" = 1 ]; then
    tiny_copy
    section "step throughput" 150 "$PYTHON" benchmarks/step_throughput.py --models lenet5 --repeats 1 --epochs 2 \
        --batch-size 32 --data "$WORK/tiny"
    section "host time a step" 90 "$PYTHON" benchmarks/host_step.py --steps 5 --repeats 1
    rates=$(measured_rates)
    section "input pipeline" 150 "$PYTHON" benchmarks/input_pipeline.py --repeats 1 --epochs 2 --data "$WORK/tiny" \
        --workers auto ${rates:+--gpu-images-per-s "$rates"}
    section "lenet5_aug run" 150 run_and_show aug --preset lenet5_aug --epochs 1 --set "data.source=folder:$WORK/tiny" \
        --set train.batch_size=32 --set train.precision=mixed_bfloat16
    skipped "torch.compile" "compiling takes minutes on a CPU"
    section "search placement" 200 placement 1 "$WORK/tiny"
    skipped "CUDA tests" "they skip without a GPU (the test suite runs them on the CPU)"
else
    for precision in float32 mixed_bfloat16 mixed_float16; do
        section "step throughput, $precision, batch 512" 80 "$PYTHON" benchmarks/step_throughput.py \
            --models lenet5 resnet20 --repeats 3 --epochs 3 --batch-size 512 --precision "$precision" --data "$DATA"
    done
    for precision in float32 mixed_float16; do  # a launch-bound step: what kerashp's Python costs on a GPU
        section "host time a step, $precision, batch 2" 40 "$PYTHON" benchmarks/host_step.py --precision "$precision" \
            --repeats 5
    done
    rates=$(measured_rates)
    section "input pipeline" 60 "$PYTHON" benchmarks/input_pipeline.py --repeats 1 --epochs 3 --data "$DATA" \
        --workers auto ${rates:+--gpu-images-per-s "$rates"}
    section "lenet5_aug run, mixed_bfloat16" 50 run_and_show aug --preset lenet5_aug --epochs 3 \
        --set "data.source=folder:$DATA" --set train.precision=mixed_bfloat16
    section "torch.compile" 90 "$PYTHON" benchmarks/compile_step.py --model resnet20 --steps 50 --batch-size 512
    section "search placement" 70 placement 2 "$DATA"
    # the speed paths' equivalence tests, on this GPU (bitwise ones included); cuda_tests lists them
    section "CUDA tests" 150 "$PYTHON" -m pytest -q -p no:cacheprovider $CUDA_TESTS
fi

printf '\n== summary ==\n'
for index in "${!NAMES[@]}"; do
    printf '%-42s %-24s %4ss\n' "${NAMES[$index]}" "${RESULTS[$index]}" "${SECONDS_TAKEN[$index]}"
done
echo "log: $LOG"
