# difftune — build, test, benchmark.
#
#   make test     install what is missing (Go modules; Debian packages when a
#                 later GPU test needs them) and run every test, in both CPU
#                 builds: plain Go and GOEXPERIMENT=simd
#   make bench    go test benchmarks of the hot kernels
#   make run      the default main job: elegant-train on gmm2d, CPU

GO      ?= go
SIMD    := GOEXPERIMENT=simd
PKGS    := ./...
OUT     ?= runs/gmm2d

.PHONY: all test deps vet fmt bench run build

all: build

# deps installs what a fresh Debian machine lacks. Run as root (CI is), or
# with the packages already present.
deps:
	@command -v $(GO) >/dev/null || { echo "Go 1.26 is required: https://go.dev/dl/"; exit 1; }
	$(GO) mod download

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)
	$(SIMD) $(GO) vet $(PKGS)

test: deps vet
	$(GO) test -count=1 $(PKGS)
	$(SIMD) $(GO) test -count=1 $(PKGS)

build: deps
	$(SIMD) $(GO) build -o bin/ ./cmd/...

bench: deps
	$(SIMD) $(GO) test -run '^$$' -bench . -benchtime 10x ./tensor/... ./bench/...

run: build
	./bin/elegant-train -out $(OUT)
