# hs: every target is a plain shell step, so this file doubles as an example of scripting hs.
PYTHON     ?= python3
VENV       ?= .venv
HS_DATA_DIR ?= ../shared/data
# torch/torchvision come first, pinned to the wheels this project is developed with (on the
# development machines they are on local disk; elsewhere pip downloads them).
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
PY         := $(VENV)/bin/python
HS         := $(VENV)/bin/hs
STAMP      := $(VENV)/.installed

.PHONY: venv test demo clean bench-train

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e '.[ml,test]'
	touch $(STAMP)

venv: $(STAMP)

## make test: create .venv, install hs with its test extras, run the whole suite.
test: $(STAMP)
	$(PY) -m pytest -q

## make demo: the end-to-end demo on sample_data/ (filled in by the demo issue).
demo: $(STAMP)
	@echo "make demo: not yet available; see README.md"

clean:
	rm -rf $(VENV) out

## make bench-train: CPU training speed of hs train against a plain PyTorch loop (docs/benchmarks.md).
bench-train: $(STAMP)
	PYTHONPATH=. $(PY) benchmarks/train_speed.py $(HS_DATA_DIR)
