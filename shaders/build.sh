#!/bin/sh
# build.sh compiles the GLSL kernels of glsl/ into SPIR-V as glsl/build.list
# says: `sh build.sh [outdir]` (default spv/, the embedded copies). It is
# what `make shaders` runs, and TestSPIRVUpToDate checks that its output
# equals the committed files. The output does not depend on the directory
# it is built in (glslc -O records no paths).
set -eu
cd "$(dirname "$0")"
out=${1:-spv}
mkdir -p "$out"
command -v glslc >/dev/null || { echo "build.sh: glslc not found (Debian package glslc)" >&2; exit 1; }
grep -v '^[[:space:]]*#' glsl/build.list | while read -r name src flags; do
	[ -n "$name" ] || continue
	# shellcheck disable=SC2086 # flags are words
	glslc --target-env=vulkan1.1 -O -fshader-stage=compute $flags -o "$out/$name.spv" "glsl/$src"
done
