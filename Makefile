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

# sample_data/: a few hundred real PneumoniaMNIST chest X-rays with a planted drain (see
# sample_data/README.md). Drains in 90% of training and validation positives and 10% of
# negatives; in the test split, in half of the positives (and still 10% of negatives).
SAMPLE_SYNTH := --from-npz $(HS_DATA_DIR)/pneumoniamnist/pneumoniamnist.npz \
	--per-class train=200,val=50,test=200 \
	--spurious drain:pos=0.9,neg=0.1,test.pos=0.5,test.neg=0.1 --seed 2019

.PHONY: venv test demo sample-data clean

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

## make sample-data: regenerate sample_data/ from $(HS_DATA_DIR) (byte-identical to the committed files).
sample-data: $(STAMP)
	rm -rf sample_data/images sample_data/*.csv sample_data/*.meta.json
	$(HS) synth $(SAMPLE_SYNTH) --out-dir sample_data --force

clean:
	rm -rf $(VENV) out
