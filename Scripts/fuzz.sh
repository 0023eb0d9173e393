#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ and runs each for a fixed time on a copy of its seed
# corpus (Fuzz/Corpus/<target>/, which is never modified).
#
#   Scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 30 s, every target)
#
# Prints, per target, the inputs run, the seconds and the findings (crashes, traps, memory over
# the limit, timeouts, leaks). Findings are kept as libFuzzer's artifacts in a temporary
# directory whose paths are printed; reproduce one with `Fuzz/.build/release/<target> FILE`.
# Exits non-zero if the build fails or any target has a finding.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH=/opt/swift/usr/bin:$PATH
fi

seconds=${1:-30}
shift || true
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: SECONDS_PER_TARGET must be a positive integer, got '$seconds'" >&2; exit 2; }

# Target and the longest input libFuzzer may generate for it (images and gzip: 1 MB, so that
# a small file declaring a huge image or inflating to gigabytes can be found).
declare -A max_len=(
  [FuzzSafetensors]=65536 [FuzzConfig]=16384 [FuzzGenotype]=16384
  [FuzzIDX]=1048576 [FuzzCIFAR]=16384 [FuzzImage]=1048576
)
# Dictionaries (Fuzz/Dictionaries/) of the targets whose format has keywords.
declare -A dictionary=([FuzzSafetensors]=safetensors.dict [FuzzConfig]=json.dict [FuzzGenotype]=json.dict)
# Leak checks for the targets that parse in memory. The others read files, and libFuzzer's
# per-input leak check, set off by a leak in swift-foundation's reading of empty files
# (Fuzz/lsan.supp), would make them about 40 times slower.
declare -A leak_checks=([FuzzSafetensors]=1 [FuzzImage]=1)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(FuzzSafetensors FuzzConfig FuzzGenotype FuzzIDX FuzzCIFAR FuzzImage)
for target in "${targets[@]}"; do
  [ -n "${max_len[$target]:-}" ] || { echo "fuzz.sh: unknown target '$target' (known: ${!max_len[*]})" >&2; exit 2; }
done

# Every module, the package's parsers included, is instrumented for coverage and checked by
# AddressSanitizer. lld links: gold fails on the libFuzzer runtime's debug information.
flags=(-c release --package-path Fuzz
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
  -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld)
work=$(mktemp -d "${TMPDIR:-/tmp}/darts-fuzz.XXXXXX")
start=$(date +%s)
if ! swift build "${flags[@]}" >"$work/build.log" 2>&1; then
  grep -E "error:" "$work/build.log" | head -n 20 >&2 || tail -n 20 "$work/build.log" >&2
  echo "fuzz.sh: building the fuzz targets failed (log: $work/build.log)" >&2
  exit 1
fi
bin=$(swift build "${flags[@]}" --show-bin-path)
echo "fuzz.sh: built the fuzz targets in $(( $(date +%s) - start )) s"

export TMPDIR="$work/scratch"  # the targets' files of each input
# Swift's own crash backtracer hangs under AddressSanitizer; libFuzzer prints the stack instead.
export SWIFT_BACKTRACE=enable=no
export LSAN_OPTIONS="suppressions=$PWD/Fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
mkdir -p "$TMPDIR"
failed=0
for target in "${targets[@]}"; do
  corpus="$work/corpus/$target"
  artifacts="$work/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  cp Fuzz/Corpus/"$target"/* "$corpus"/
  log="$work/$target.log"
  options=(-detect_leaks="${leak_checks[$target]:-0}")
  [ -z "${dictionary[$target]:-}" ] || options+=(-dict="Fuzz/Dictionaries/${dictionary[$target]}")
  status=0
  began=$(date +%s)
  "$bin/$target" "$corpus" "${options[@]}" -max_total_time="$seconds" -max_len="${max_len[$target]}" \
    -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -n 1)
  findings=$(find "$artifacts" -type f | wc -l)
  echo "$target: ${runs:-?} runs in $(( $(date +%s) - began )) s, $findings findings (exit $status)"
  if [ "$status" != 0 ] || [ "$findings" != 0 ]; then
    failed=1
    grep -E "^==[0-9]+==|^SUMMARY|Fatal error|fatal error|Deadly signal|out-of-memory|Test unit written" "$log" | head -n 12 | sed 's/^/  /'
    find "$artifacts" -type f | sed 's/^/  artifact: /'
    echo "  log: $log"
  fi
done
if [ "$failed" = 0 ]; then
  rm -rf "$work"
  echo "fuzz.sh: ${#targets[@]} targets, no findings"
else
  rm -rf "$work/scratch" "$work/corpus" "$work/build.log"
  echo "fuzz.sh: findings above (artifacts and logs in $work)" >&2
  exit 1
fi
