# difftune — build, test, benchmark.
#
#   make test     install what is missing (Go modules; Debian packages: the
#                 Vulkan backend's, Fashion-MNIST) and run every test, in both
#                 CPU builds: plain Go and GOEXPERIMENT=simd
#   make fuzz     each fuzz target of the loaders for FUZZTIME (5 s; part of
#                 make test), minimizing new inputs for FUZZMINIMIZE
#   make bench    go test benchmarks of the hot kernels
#   make run      the default main job: elegant-train on gmm2d, CPU
#   make shaders  recompile the Vulkan kernels (shaders/glsl → shaders/spv)

GO      ?= go
SIMD    := GOEXPERIMENT=simd
PKGS    := ./...
OUT     ?= runs/gmm2d

.PHONY: all test deps vet fmt bench run build shaders fuzz

# The fuzz targets of the loaders, package:target.
FUZZ     := ./nn/safetensors:FuzzDecode ./algos/tasks:FuzzParseLandscape ./algos/tasks:FuzzParseIDX ./algos/report:FuzzParseConfig ./algos/report:FuzzParseSavedRun ./algos/report:FuzzParsePartialState
FUZZTIME ?= 5s
# Go minimizes every new interesting input, by default for up to 60 s, and
# counts none of those executions: with 2 workers both minimizing, the
# status showed "0/sec" for seconds at a time and a 5 s run fuzzed for a
# fraction of it (a landscape input is a megabyte: thousands of its
# executions take seconds). A second of minimizing per input is enough for
# the small ones (a crasher is still reported, less minimized).
FUZZMINIMIZE ?= 1s

all: build

# Debian packages of the Vulkan backend (package shaders): the loader and
# lavapipe (a CPU Vulkan device) to run it, glslc to compile its kernels,
# the validation layer its tests run under, gcc for cgo.
VULKAN_PKGS := gcc libc6-dev mesa-vulkan-drivers libvulkan1 libvulkan-dev vulkan-tools glslc glslang-tools spirv-tools vulkan-validationlayers

# Debian packages of the viewer's window (go-gl/glfw compiles GLFW's C
# sources against the X11 headers) and of its tests (Xvfb, a virtual X
# server whose screen the tests read back; xdotool, which presses keys).
WINDOW_PKGS := libx11-dev libxrandr-dev libxinerama-dev libxcursor-dev libxi-dev libxxf86vm-dev libgl1-mesa-dev xvfb xauth xdotool

# Debian's Fashion-MNIST (the fmnist task's data, MIT-licensed by Zalando:
# /usr/share/doc/dataset-fashion-mnist/copyright): the four gzipped IDX files.
FMNIST_DIR   := /usr/share/datasets/fashion-mnist
FMNIST_FILES := train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz

# deps installs what a fresh Debian machine lacks. Run as root (CI is), or
# with the packages already present; apt runs only when something is missing.
deps:
	@command -v $(GO) >/dev/null || { echo "Go 1.26 is required: https://go.dev/dl/"; exit 1; }
	@if command -v gcc >/dev/null && command -v glslc >/dev/null && ldconfig -p | grep -q 'libvulkan\.so\.1 ' \
		&& ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 \
		&& ls /usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "deps: installing $(VULKAN_PKGS)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(VULKAN_PKGS); \
	else \
		echo "deps: Vulkan packages missing; as root: apt-get install $(VULKAN_PKGS)"; \
	fi
	@if command -v Xvfb >/dev/null && command -v xdotool >/dev/null && [ -e /usr/include/X11/extensions/Xrandr.h ] && [ -e /usr/include/X11/extensions/XInput2.h ] \
		&& [ -e /usr/include/X11/Xcursor/Xcursor.h ] && [ -e /usr/include/X11/extensions/Xinerama.h ] \
		&& [ -e /usr/include/X11/extensions/xf86vmode.h ] && [ -e /usr/include/GL/gl.h ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "deps: installing $(WINDOW_PKGS)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(WINDOW_PKGS); \
	else \
		echo "deps: window packages missing; as root: apt-get install $(WINDOW_PKGS)"; \
	fi
	@if (cd $(FMNIST_DIR) 2>/dev/null && ls $(FMNIST_FILES) >/dev/null 2>&1); then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "deps: installing dataset-fashion-mnist"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dataset-fashion-mnist; \
	else \
		echo "deps: Fashion-MNIST missing from $(FMNIST_DIR); as root: apt-get install dataset-fashion-mnist"; \
	fi
	$(GO) mod download

# shaders recompiles the GLSL kernels into the embedded SPIR-V (commit the
# result: the tests fail when spv/ differs from what glslc makes of glsl/).
shaders:
	sh shaders/build.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)
	$(SIMD) $(GO) vet $(PKGS)

test: deps vet
	$(GO) test -count=1 -timeout 30m $(PKGS)
	$(SIMD) $(GO) test -count=1 -timeout 30m $(PKGS)
	$(MAKE) --no-print-directory fuzz

# Go 1.26's fuzz coordinator can fail a target with a bare "context
# deadline exceeded" as -fuzztime ends (golang/go#75804, fixed in Go 1.27):
# no input is written and nothing reproduces. Such a run is retried once; a
# run that writes a failing input, or fails any other way, fails make.
fuzz:
	@for t in $(FUZZ); do pkg=$${t%%:*}; fn=$${t##*:}; \
		for try in 1 2; do \
			echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
			log=$$($(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg 2>&1) && { echo "$$log"; break; }; \
			echo "$$log"; \
			if [ $$try = 1 ] && echo "$$log" | grep -q 'context deadline exceeded' && ! echo "$$log" | grep -q 'Failing input written'; then \
				echo "fuzz: the Go 1.26 fuzztime race (golang/go#75804), no input written: retrying $$fn once"; \
			else exit 1; fi; \
		done; \
	done

build: deps
	$(SIMD) $(GO) build -o bin/ ./cmd/...

bench: deps
	$(SIMD) $(GO) test -run '^$$' -bench . -benchtime 10x ./tensor/... ./bench/...

run: build
	./bin/elegant-train -out $(OUT)

# compare times each CPU workload beside its PyTorch twin (bench/torch),
# alternately, COMPARE_ROUNDS rounds, in our fast build (GOEXPERIMENT=simd),
# and prints the CPU model, our CPU kernels, the sgemm rate of both sides in
# every round and the table of medians (ratio PyTorch / ours > 1: we are
# faster). As root it installs Debian's python3-torch with OpenBLAS when
# missing; otherwise bin/bench says how and exits 2.
#   make compare COMPARE_RUN='matmul_1024|gmm2d' COMPARE_ROUNDS=5 COMPARE_JSON=compare.json
.PHONY: compare

TORCH_PKGS     := python3-torch libopenblas0-pthread
COMPARE_RUN    ?= .
COMPARE_ROUNDS ?= 3
COMPARE_JSON   ?=

compare:
	@command -v $(GO) >/dev/null || { echo "Go 1.26 is required: https://go.dev/dl/"; exit 1; }
	@ok=; { python3 -c 'import torch' || /usr/bin/python3 -c 'import torch'; } >/dev/null 2>&1 && ok=1; \
	if [ -n "$$ok" ] && dpkg -s python3-torch >/dev/null 2>&1 && ! dpkg -s libopenblas0-pthread >/dev/null 2>&1; then ok=; fi; \
	if [ -n "$$ok" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "compare: installing $(TORCH_PKGS)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TORCH_PKGS); \
	fi
	$(SIMD) $(GO) build -o bin/ ./cmd/bench
	./bin/bench -compare -run '$(COMPARE_RUN)' -rounds $(COMPARE_ROUNDS) $(if $(COMPARE_JSON),-json $(COMPARE_JSON))
