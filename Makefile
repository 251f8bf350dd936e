# difftune — build, test, benchmark.
#
#   make test     install what is missing (Go modules; Debian packages when a
#                 later GPU test needs them) and run every test, in both CPU
#                 builds: plain Go and GOEXPERIMENT=simd
#   make fuzz     each fuzz target of the loaders for FUZZTIME (5 s; part of
#                 make test)
#   make bench    go test benchmarks of the hot kernels
#   make run      the default main job: elegant-train on gmm2d, CPU
#   make shaders  recompile the Vulkan kernels (shaders/glsl → shaders/spv)

GO      ?= go
SIMD    := GOEXPERIMENT=simd
PKGS    := ./...
OUT     ?= runs/gmm2d

.PHONY: all test deps vet fmt bench run build shaders fuzz

# The fuzz targets of the loaders, package:target.
FUZZ     := ./nn/safetensors:FuzzDecode ./algos/tasks:FuzzParseLandscape ./algos/report:FuzzParseConfig ./algos/report:FuzzParseSavedRun
FUZZTIME ?= 5s

all: build

# Debian packages of the Vulkan backend (package shaders): the loader and
# lavapipe (a CPU Vulkan device) to run it, glslc to compile its kernels,
# the validation layer its tests run under, gcc for cgo.
VULKAN_PKGS := gcc libc6-dev mesa-vulkan-drivers libvulkan1 libvulkan-dev vulkan-tools glslc glslang-tools spirv-tools vulkan-validationlayers

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

fuzz:
	@for t in $(FUZZ); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

build: deps
	$(SIMD) $(GO) build -o bin/ ./cmd/...

bench: deps
	$(SIMD) $(GO) test -run '^$$' -bench . -benchtime 10x ./tensor/... ./bench/...

run: build
	./bin/elegant-train -out $(OUT)
