# `make demo` and `make test` work on a fresh Debian machine: they install what
# is missing (system packages with apt-get, Python packages into .venv).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := mosquitto mosquitto-clients xvfb espeak-ng sox python3-venv zbar-tools gettext poppler-utils g++ systemd postgresql openssl chromium chromium-driver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo demo-province test test-fast system-deps venv clean bench

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(VENV)/.installed: setup.cfg pyproject.toml | system-deps
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: system-deps $(VENV)/.installed

demo: venv
	$(VENV)/bin/motcua --site examples/site.toml demo

# PostgreSQL (a throwaway cluster under /tmp), the provincial broker, the hub, three
# centres with their own brokers and simulated traffic, and the province board
demo-province: venv
	$(VENV)/bin/motcua province demo --province examples/province.toml

test: venv
	$(PY) -m pytest -q

# the pure tests only: no broker, no screen (under a minute)
test-fast: venv
	$(PY) -m pytest -q tests/unit

bench: venv
	$(PY) benchmarks/bench_centre.py

clean:
	rm -rf $(VENV) var test-output *.egg-info
