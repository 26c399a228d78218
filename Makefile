# The two commands of the README:
#   make demo  — bootstrap, release build, run the quickstart study, write the report
#   make test  — bootstrap, build and run the whole test suite (release, with @testable)
SWIFT ?= swift
SWIFT_TEST_FLAGS = -c release -Xswiftc -enable-testing
BIN = .build/release/medtransfer

.PHONY: demo test build bootstrap clean

bootstrap:
	scripts/bootstrap

build: bootstrap
	$(SWIFT) build $(SWIFT_TEST_FLAGS)

demo: build
	$(BIN) study run studies/quickstart.yaml

test: build
	$(SWIFT) test $(SWIFT_TEST_FLAGS)

clean:
	rm -rf .build
