#!/usr/bin/env bash
# Native unit tests of the OS layer: configure a plain cmake build (no Node) and run ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cmake >/dev/null || { apt-get update -qq && apt-get install -y -qq cmake; }
cmake -S . -B build-ctest -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-ctest -j2 >/dev/null
cd build-ctest && ctest --output-on-failure "$@"
