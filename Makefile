# Two commands do all the set-up on a fresh machine:
#   make demo   - create .venv with the training extras and run `zerograd train` (digits, offline)
#   make test   - create .venv with the dev extras (PyTorch oracle, pytest, hypothesis),
#                 install the Fashion-MNIST Debian package if missing, and run the tests
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
FORTUNES := /usr/share/games/fortunes/science
FORTUNES_ZH := /usr/share/games/fortunes/tang300

.PHONY: demo test venv-train venv-dev data bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

venv-train: $(PY)
	$(PY) -m pip install -q -e '.[train]'

venv-dev: $(PY)
	$(PY) -m pip install -q -e '.[dev]'

# Debian packages the tests use: the Fashion-MNIST IDX files, Graphviz's `dot`, and the
# English and Chinese fortune files (text corpora for the recurrent-network chapters).
data:
	@PKGS=; \
	[ -f $(FASHION_MNIST) ] || PKGS="$$PKGS dataset-fashion-mnist"; \
	[ -f $(FORTUNES) ] || PKGS="$$PKGS fortunes"; \
	[ -f $(FORTUNES_ZH) ] || PKGS="$$PKGS fortunes-zh"; \
	command -v dot >/dev/null || PKGS="$$PKGS graphviz"; \
	if [ -n "$$PKGS" ]; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$PKGS; \
	fi

demo: venv-train
	$(VENV)/bin/zerograd train

test: venv-dev data
	$(PY) -m pytest -n 2 -p no:cacheprovider tests

bench: venv-dev
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
