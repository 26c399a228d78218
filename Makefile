# The two commands of the README:
#   make demo  — bootstrap, release build, run the quickstart study, write the report
#   make test  — bootstrap, build and run the whole test suite (release, with @testable)
SWIFT ?= swift
SHELL := /bin/bash
SWIFT_TEST_FLAGS = -c release -Xswiftc -enable-testing
BIN = .build/release/medtransfer

.PHONY: demo test build bootstrap clean lint

# make demo needs Lite0's weights only; make test also loads Lite1 and Lite2 strictly.
WEIGHTS ?= lite0
test: WEIGHTS = lite0,lite1,lite2

bootstrap:
	scripts/bootstrap --weights $(WEIGHTS)

build: bootstrap
	$(SWIFT) build $(SWIFT_TEST_FLAGS)

demo: build
	$(BIN) study run studies/quickstart.yaml --workers 2

# The house style (.swift-format: 2-space indent, 100 columns). `swift-format format -i -r
# Sources Tests Package.swift` fixes almost everything it reports.
lint:
	swift-format lint --strict -r Sources Tests Package.swift

# The in-process tests run on the OpenBLAS kernels the executable pins (BLAS.pinnedCoreType:
# the AVX2 ones wherever the CPU has AVX2 and FMA), so their numbers are the product's.
BLAS_CORE := $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && echo Haswell)
ifneq ($(BLAS_CORE),)
test: export OPENBLAS_CORETYPE := $(BLAS_CORE)
endif

# CI shows only the tail of the output, so a failing run repeats its failing assertions last.
test: lint build
	@set -o pipefail; $(SWIFT) test $(SWIFT_TEST_FLAGS) 2>&1 | tee .build/test.log; status=$$?; \
	if [ $$status -ne 0 ]; then \
	  echo "make test: failed (exit $$status); the failing assertions, from .build/test.log:"; \
	  grep -E "error: |: error|' failed \(" .build/test.log | tail -n 40; \
	fi; exit $$status

clean:
	rm -rf .build
