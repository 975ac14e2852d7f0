# H0p — the two commands a newcomer needs are `make run` and `make test`.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
FUZZTIME ?= 10s

.PHONY: run test build lint fuzz

# Control + edge in one process on embedded defaults; prints the bootstrap key
# on first start. Data in ./data.
run:
	$(GO) run ./cmd/h0p dev

# Everything CI checks: formatting, vet, and all tests with the race detector.
test: lint
	$(GO) test -race -count=1 ./...

build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/h0p ./cmd/h0p

lint:
	@out=$$(gofmt -l .); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Runs every fuzz target for FUZZTIME each (go test takes one target at a time).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run XXX -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done
