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

# The real images the benchmarks and reproductions plant strata into ($(HS_DATA_DIR)/README.md).
PNEUMONIA_NPZ   := $(HS_DATA_DIR)/pneumoniamnist/pneumoniamnist.npz
FASHION_DIR     := $(HS_DATA_DIR)/fashion-mnist
FASHION_TRAIN   := train=$(FASHION_DIR)/train-images-idx3-ubyte.gz,$(FASHION_DIR)/train-labels-idx1-ubyte.gz
FASHION_TEST    := test=$(FASHION_DIR)/t10k-images-idx3-ubyte.gz,$(FASHION_DIR)/t10k-labels-idx1-ubyte.gz
# Superclasses by meaning (season), not look: look-alikes (shirt / pullover / coat, sandal /
# sneaker / ankle boot) fall in different superclasses, as CIFAR-100's do ($(HS_DATA_DIR)/README.md).
FASHION_CLASSES := --class-names tshirt,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,ankle_boot \
	--superclass summer=tshirt,dress,sandal,shirt --superclass warm=pullover,coat,ankle_boot \
	--superclass everyday=trouser,sneaker,bag

# The rows of one split of a manifest ($(call SPLIT_ROWS,test) < manifest.csv): hs predict scores
# every row it is given, and hs synth writes all splits into one manifest.
SPLIT_ROWS = awk -F, -v want=$(1) 'NR==1{for(i=1;i<=NF;i++) if($$i=="split") s=i; print; next} s && $$s==want'

# sample_data/: a few hundred real PneumoniaMNIST chest X-rays with a planted drain (see
# sample_data/README.md). Drains in 90% of training and validation positives and 10% of
# negatives; in the test split, in half of the positives (and still 10% of negatives).
SAMPLE_SYNTH := --from-npz $(PNEUMONIA_NPZ) \
	--per-class train=200,val=50,test=200 \
	--spurious drain:pos=0.9,neg=0.1,test.pos=0.5,test.neg=0.1 --seed 2019

.PHONY: venv test lint demo sample-data clean agree-cxr14 perturb-sweep perturb-demo repro-superclass repro-spurious bench-cluster bench-discovery bench-stratify bench-report bench-train bench-infer bench-infer-gpu

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e '.[ml,plots,test]'
	touch $(STAMP)

venv: $(STAMP)

## make test: create .venv, install hs with its test extras, then lint (ruff), check formatting
## and types (mypy, strict on every module of hstool/) and run the whole suite.
LINTED := hstool tests benchmarks scripts
test: $(STAMP) lint
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy

## make demo: the whole idea in a few minutes on CPU, on sample_data/ (real PneumoniaMNIST X-rays
## with a planted chest drain): train a small CNN, predict and embed the test split, then
## stratify (drain vs no drain, DeLong tests), cluster the embeddings and write report.html.
## Each step is a plain hs command; the test split is selected with awk (SPLIT_ROWS) and piped in.
DEMO_OUT    ?= out/demo
DEMO_EPOCHS ?= 30
DEMO_SEED   ?= 0
DEMO_LABELS := sample_data/labels_test.csv
# The test set has 200 images per class, so clusters need more than 40 members (the paper: 100).
DEMO_TEST    = $(call SPLIT_ROWS,test) < sample_data/manifest.csv

demo: $(STAMP)
	@mkdir -p $(DEMO_OUT)
	$(HS) train sample_data/manifest.csv -o $(DEMO_OUT)/model --epochs $(DEMO_EPOCHS) --lr 1e-3 --seed $(DEMO_SEED) --force -q
	$(DEMO_TEST) | $(HS) predict $(DEMO_OUT)/model/model.onnx - --root sample_data -o $(DEMO_OUT)/preds.csv -q
	$(DEMO_TEST) | $(HS) embed $(DEMO_OUT)/model/model.onnx - --root sample_data -o $(DEMO_OUT)/emb.npy -q
	$(HS) stratify $(DEMO_OUT)/preds.csv $(DEMO_LABELS) --by drain_pos --by drain -o $(DEMO_OUT)/strata.csv -q
	$(HS) cluster $(DEMO_OUT)/emb.npy $(DEMO_OUT)/preds.csv $(DEMO_LABELS) --by drain --min-size 40 --seed $(DEMO_SEED) \
		-o $(DEMO_OUT)/clusters.csv --summary $(DEMO_OUT)/clusters_summary.csv --prevalence $(DEMO_OUT)/drain_prevalence.csv -q
	$(HS) report -p $(DEMO_OUT)/preds.csv -l $(DEMO_LABELS) -s $(DEMO_OUT)/strata.csv -c $(DEMO_OUT)/clusters.csv \
		-m sample_data/manifest.csv -o $(DEMO_OUT)/report.html -q
	@echo
	$(HS) stratify $(DEMO_OUT)/preds.csv $(DEMO_LABELS) --by drain_pos --by drain --format table
	@echo
	@$(HS) cluster $(DEMO_OUT)/emb.npy $(DEMO_OUT)/preds.csv $(DEMO_LABELS) --by drain --min-size 40 --seed $(DEMO_SEED) \
		--format table | sed -n '/Known subclasses/,$$p'
	@echo
	@echo "Report: $(DEMO_OUT)/report.html"

## make sample-data: regenerate sample_data/ from $(HS_DATA_DIR) (byte-identical to the committed files).
sample-data: $(STAMP)
	rm -rf sample_data/images sample_data/*.csv sample_data/*.meta.json
	$(HS) synth $(SAMPLE_SYNTH) --out-dir sample_data --force

## make bench-cluster: hs cluster against scikit-learn KMeans (100,000 x 1,024), and the
## synthetic planted-slice discovery benchmark (docs/benchmarks.md). About 30 minutes on 2 cores.
bench-cluster: $(STAMP)
	$(PY) benchmarks/cluster_speed.py --end-to-end
	$(PY) benchmarks/cluster_discovery.py --synthetic --seeds 5

## make bench-discovery: hs cluster's discovery benchmark on real images (docs/benchmarks.md).
## For each seed: hs synth plants a rare subclass (shirts, DISC_RARE) and a noisy-label subclass
## (coats, DISC_NOISY) into Fashion-MNIST and a spurious drain into PneumoniaMNIST, hs train fits
## the small CNN, hs predict scores and embeds the test split, and benchmarks/cluster_discovery.py
## scores every clustering method against the planted slices; then the table, mean ± SD over
## seeds, goes to DISC_OUT/discovery.md. About 25 minutes on 2 shared cores.
DISC_OUT         ?= out/bench-discovery
DISC_SEEDS       ?= 0 1 2
DISC_RARE        ?= shirt:0.1
DISC_NOISY       ?= coat:0.4
DISC_FASHION     ?= --per-class train=600,test=500
DISC_PNEUMONIA   ?= --per-class train=388,val=135,test=390 --spurious drain:pos=0.9,neg=0.1,test.pos=0.7
DISC_TRAIN       ?= --lr 1e-3 --batch-size 64
DISC_FASHION_EPOCHS   ?= 6
DISC_PNEUMONIA_EPOCHS ?= 15
DISC_METHODS     ?=
DISC_SLICES_FASHION   := --slice rare:subclass=$(firstword $(subst :, ,$(DISC_RARE))) --slice noisy:subclass=$(firstword $(subst :, ,$(DISC_NOISY)))
DISC_SLICES_PNEUMONIA := --slice spurious:drain_pos=no

bench-discovery: $(STAMP)
	for s in $(DISC_SEEDS); do \
	  f=$(DISC_OUT)/fashion_$$s; p=$(DISC_OUT)/pneumonia_$$s; \
	  $(HS) synth --from-idx $(FASHION_TRAIN) --from-idx $(FASHION_TEST) $(FASHION_CLASSES) $(DISC_FASHION) --rare $(DISC_RARE) --noisy $(DISC_NOISY) \
	    --seed $$s --out-dir $$f/data --force -q && \
	  $(HS) synth --from-npz $(PNEUMONIA_NPZ) $(DISC_PNEUMONIA) --seed $$s --out-dir $$p/data --force -q && \
	  $(HS) train $$f/data/manifest.csv -o $$f/model $(DISC_TRAIN) --epochs $(DISC_FASHION_EPOCHS) --seed $$s --force && \
	  $(HS) train $$p/data/manifest.csv -o $$p/model $(DISC_TRAIN) --epochs $(DISC_PNEUMONIA_EPOCHS) --seed $$s --force && \
	  for d in $$f $$p; do \
	    $(call SPLIT_ROWS,test) < $$d/data/manifest.csv > $$d/data/manifest_test.csv && \
	    $(HS) predict $$d/model/model.onnx $$d/data/manifest_test.csv -o $$d/preds.csv --embeddings $$d/emb.npy -q || exit 1; \
	  done && \
	  $(PY) benchmarks/cluster_discovery.py --emb $$f/emb.npy --preds $$f/preds.csv --labels $$f/data/labels_test.csv \
	    $(DISC_SLICES_FASHION) --dataset Fashion-MNIST --seed $$s $(DISC_METHODS) --rows $$f/discovery.csv > /dev/null && \
	  $(PY) benchmarks/cluster_discovery.py --emb $$p/emb.npy --preds $$p/preds.csv --labels $$p/data/labels_test.csv \
	    $(DISC_SLICES_PNEUMONIA) --dataset PneumoniaMNIST --seed $$s $(DISC_METHODS) --rows $$p/discovery.csv > /dev/null || exit 1; \
	done
	$(PY) benchmarks/cluster_discovery.py --table $(foreach s,$(DISC_SEEDS),$(DISC_OUT)/fashion_$(s)/discovery.csv $(DISC_OUT)/pneumonia_$(s)/discovery.csv) \
	  | tee $(DISC_OUT)/discovery.md

clean:
	rm -rf $(VENV) out

## make agree-cxr14: ChestX-ray14 NLP labels vs radiologist labels, kappa per finding and per
## age band, sex and view (docs/agreement.md). Needs $(HS_DATA_DIR)/nih-cxr14.
CXR14_OUT      ?= out/agree-cxr14
CXR14_FINDINGS ?= pneumothorax nodule_or_mass airspace_opacity airspace_opacity_broad
CXR14_AGE_BINS ?= age=0,20,40,60,80,100

agree-cxr14: $(STAMP)
	$(PY) scripts/cxr14_agreement.py labels $(HS_DATA_DIR)/nih-cxr14/google2019_nih-chest-xray-labels.csv.gz $(CXR14_OUT)
	for f in $(CXR14_FINDINGS); do \
	  $(HS) agree $(CXR14_OUT)/nlp.csv $(CXR14_OUT)/expert.csv --col $$f \
	    --by age --bins $(CXR14_AGE_BINS) --by sex --by view -q -o $(CXR14_OUT)/agree_$$f.csv || exit 1; \
	done
	$(PY) scripts/cxr14_agreement.py table $(CXR14_OUT)

## make perturb-sweep: AUC against filter diameter (Gichoya et al.'s low-/high-pass ablation):
## for each value, hs perturb -> hs predict -> hs stratify, then a table of AUC by value
## (docs/probes.md). Set SWEEP_MODEL, SWEEP_MANIFEST (images) and SWEEP_LABELS (image_id,label
## and any stratifier columns); SWEEP_KIND is lowpass, highpass, resolution or noise.
SWEEP_MODEL    ?= out/model/model.onnx
SWEEP_MANIFEST ?= out/data/test/manifest.csv
SWEEP_LABELS   ?= out/data/test/labels.csv
SWEEP_KIND     ?= lowpass
SWEEP_VALUES   ?= 1 2 5 10 25 50 100 150 200
SWEEP_STRATIFY ?=
SWEEP_PREDICT  ?= $(HS) predict $(SWEEP_MODEL)
SWEEP_OUT      ?= out/perturb-sweep

perturb-sweep: $(STAMP)
	mkdir -p $(SWEEP_OUT)/original
	$(SWEEP_PREDICT) $(SWEEP_MANIFEST) -o $(SWEEP_OUT)/original/preds.csv
	$(HS) stratify $(SWEEP_OUT)/original/preds.csv $(SWEEP_LABELS) $(SWEEP_STRATIFY) -q -o $(SWEEP_OUT)/original/strata.csv
	for v in $(SWEEP_VALUES); do \
	  d=$(SWEEP_OUT)/$(SWEEP_KIND)_$$v; \
	  $(HS) perturb $(SWEEP_MANIFEST) -o $$d --$(SWEEP_KIND) $$v --force -q && \
	  $(SWEEP_PREDICT) $$d/manifest.csv -o $$d/preds.csv && \
	  $(HS) stratify $$d/preds.csv $(SWEEP_LABELS) $(SWEEP_STRATIFY) -q -o $$d/strata.csv || exit 1; \
	done
	$(PY) scripts/perturb_sweep_table.py $(SWEEP_OUT)

## make repro-superclass, make repro-spurious: the hidden-stratification paper's experiments
## (Oakden-Rayner et al., ML4H 2019), each a sequence of plain hs commands; the last step writes
## the target's section of docs/reproduction.md from what the run wrote under REPRO_OUT.
## The defaults fit a shared 2-core CPU (14 and 9 minutes measured); on a GPU, raise them, e.g.
##   make repro-superclass SEEDS="1 2 3 4 5" TRAIN_PER_CLASS=6000 EPOCHS=30
## Knobs (per target): SEEDS, EPOCHS, TRAIN_PER_CLASS, LR, BATCH_SIZE, TRAIN_OPTS, REPRO_OUT;
## superclass: TEST_PER_CLASS, SUBCLASS, SUBSAMPLE, NOISE; spurious: VAL_PER_CLASS, DRAIN,
## TEST_DRAIN, MIN_SIZE. REPRO_DATA_SEED fixes the image sample and the planted drains.
REPRO_DATA_SEED ?= 2019
REPRO_DOC       ?= docs/reproduction.md

repro-superclass repro-spurious: LR ?= 1e-3
repro-superclass repro-spurious: TRAIN_OPTS ?= --no-augment --no-epoch-weights
repro-superclass: SEEDS ?= 1 2 3
repro-superclass: EPOCHS ?= 10
repro-superclass: TRAIN_PER_CLASS ?= 600
repro-superclass: TEST_PER_CLASS ?= 1000
repro-superclass: BATCH_SIZE ?= 128
# The subclass the baseline already finds hardest (accuracy far below the rest of its superclass).
repro-superclass: SUBCLASS ?= shirt
repro-superclass: SUBSAMPLE ?= 0.75
repro-superclass: NOISE ?= 0.25
repro-superclass: REPRO_OUT ?= out/repro-superclass

repro-superclass: $(STAMP)
	@mkdir -p $(REPRO_OUT)
	date +%s > $(REPRO_OUT)/started_at
	$(HS) synth --from-idx $(FASHION_TRAIN) \
		$(FASHION_CLASSES) --per-class $(TRAIN_PER_CLASS) --seed $(REPRO_DATA_SEED) --out-dir $(REPRO_OUT)/data/train --force -q
	$(HS) synth --from-idx $(FASHION_TEST) \
		$(FASHION_CLASSES) --per-class $(TEST_PER_CLASS) --seed $(REPRO_DATA_SEED) --out-dir $(REPRO_OUT)/data/test --force -q
	for seed in $(SEEDS); do \
	  for cond in baseline subsampled noisy; do \
	    case $$cond in \
	      baseline) exp= ;; \
	      subsampled) exp="--subsample subclass=$(SUBCLASS):$(SUBSAMPLE)" ;; \
	      noisy) exp="--label-noise subclass=$(SUBCLASS):$(NOISE)" ;; \
	    esac; \
	    d=$(REPRO_OUT)/$$cond/seed$$seed; echo "== $$cond, seed $$seed"; \
	    $(HS) train $(REPRO_OUT)/data/train/manifest.csv -o $$d/model $$exp --epochs $(EPOCHS) --lr $(LR) \
	      --batch-size $(BATCH_SIZE) $(TRAIN_OPTS) --seed $$seed --force -q && \
	    $(HS) predict $$d/model/model.onnx $(REPRO_OUT)/data/test/manifest.csv -o $$d/preds.csv -q && \
	    $(HS) stratify $$d/preds.csv $(REPRO_OUT)/data/test/labels_test.csv --by subclass -o $$d/strata.csv -q || exit 1; \
	  done; \
	done
	date +%s > $(REPRO_OUT)/finished_at
	$(PY) scripts/reproduction_doc.py superclass $(REPRO_OUT) $(REPRO_DOC) --seeds "$(SEEDS)"

repro-spurious: SEEDS ?= 1 2 3 4 5
repro-spurious: EPOCHS ?= 30
# PneumoniaMNIST's training split has 388 normal images: 388 per class uses them all.
repro-spurious: TRAIN_PER_CLASS ?= 388
repro-spurious: VAL_PER_CLASS ?= 135
repro-spurious: BATCH_SIZE ?= 32
# Drains in 80% of positives (as pneumothorax in ChestX-ray14) and 10% of negatives, in training
# and validation; the test split gets the same mix (one hospital population).
repro-spurious: DRAIN ?= pos=0.8,neg=0.1
repro-spurious: TEST_DRAIN ?= pos=0.8,neg=0.1
repro-spurious: MIN_SIZE ?= 100
repro-spurious: REPRO_OUT ?= out/repro-spurious

repro-spurious: $(STAMP)
	@mkdir -p $(REPRO_OUT)
	date +%s > $(REPRO_OUT)/started_at
	$(HS) synth --from-npz $(PNEUMONIA_NPZ) --splits train,val --per-class train=$(TRAIN_PER_CLASS),val=$(VAL_PER_CLASS) \
		--spurious drain:$(DRAIN) --seed $(REPRO_DATA_SEED) --out-dir $(REPRO_OUT)/data/trainval --force -q
	$(HS) synth --from-npz $(PNEUMONIA_NPZ) --splits test --spurious drain:$(TEST_DRAIN) --seed $(REPRO_DATA_SEED) \
		--out-dir $(REPRO_OUT)/data/test --force -q
	for seed in $(SEEDS); do \
	  d=$(REPRO_OUT)/seed$$seed; t=$(REPRO_OUT)/data/test; echo "== seed $$seed"; \
	  $(HS) train $(REPRO_OUT)/data/trainval/manifest.csv -o $$d/model --epochs $(EPOCHS) --lr $(LR) \
	    --batch-size $(BATCH_SIZE) $(TRAIN_OPTS) --seed $$seed --force -q && \
	  $(HS) predict $$d/model/model.onnx $$t/manifest.csv -o $$d/preds.csv --embeddings $$d/emb.npy -q && \
	  $(HS) stratify $$d/preds.csv $$t/labels_test.csv --by drain_pos -o $$d/strata_drain_pos.csv -q && \
	  $(HS) stratify $$d/preds.csv $$t/labels_test.csv --by drain -o $$d/strata_drain.csv -q && \
	  $(HS) cluster $$d/emb.npy $$d/preds.csv $$t/labels_test.csv --by drain --min-size $(MIN_SIZE) --seed $$seed \
	    -o $$d/clusters.csv --summary $$d/cluster_summary.csv --prevalence $$d/cluster_prevalence.csv -q || exit 1; \
	done
	date +%s > $(REPRO_OUT)/finished_at
	$(PY) scripts/reproduction_doc.py spurious $(REPRO_OUT) $(REPRO_DOC) --seeds "$(SEEDS)"

## make perturb-demo: make perturb-sweep with no model of your own. hs train fits the small CNN on
## PneumoniaMNIST's train split (val picks the best epoch); then low-pass and high-pass diameters
## (1 to 40 pixels: the 28 x 28 diagonal is 39.6) and resolutions are swept on its 624 test
## images into one table, PDEMO_OUT/sweep/auc_by_value.md (docs/probes.md). About 10 minutes.
PDEMO_OUT        ?= out/perturb-demo
PDEMO_TRAIN      ?= --epochs 8 --lr 1e-3 --batch-size 64 --seed 0
PDEMO_LOWPASS    ?= 1 2 3 4 6 8 12 16 24 32 40
PDEMO_HIGHPASS   ?= 1 2 3 4 6 8 12 16 24 32 40
PDEMO_RESOLUTION ?= 1 2 4 7 14 28
# The labels are the test manifest's image_id,label columns: given the whole manifest, hs stratify
# would also stratify by its path and split columns.
PDEMO_SWEEP       = $(MAKE) --no-print-directory perturb-sweep SWEEP_MODEL=$(PDEMO_OUT)/model/model.onnx \
	SWEEP_MANIFEST=$(PDEMO_OUT)/test/manifest.csv SWEEP_LABELS=$(PDEMO_OUT)/test/labels.csv SWEEP_OUT=$(PDEMO_OUT)/sweep

perturb-demo: $(STAMP)
	$(HS) manifest npz $(PNEUMONIA_NPZ) --splits train,val --out-dir $(PDEMO_OUT)/trainval --force -q
	$(HS) manifest npz $(PNEUMONIA_NPZ) --splits test --out-dir $(PDEMO_OUT)/test --force -q
	cut -d, -f1,3 $(PDEMO_OUT)/test/manifest.csv > $(PDEMO_OUT)/test/labels.csv
	$(HS) train $(PDEMO_OUT)/trainval/manifest.csv -o $(PDEMO_OUT)/model $(PDEMO_TRAIN) --force
	$(PDEMO_SWEEP) SWEEP_KIND=lowpass SWEEP_VALUES="$(PDEMO_LOWPASS)"
	$(PDEMO_SWEEP) SWEEP_KIND=highpass SWEEP_VALUES="$(PDEMO_HIGHPASS)"
	$(PDEMO_SWEEP) SWEEP_KIND=resolution SWEEP_VALUES="$(PDEMO_RESOLUTION)"

## make bench-stratify: hs stratify against fairlearn's MetricFrame and a plain scikit-learn loop
## with bootstrap intervals, at 100,000 rows (both baselines, and hs's own bootstrap) and at
## 1,000,000 rows (the scikit-learn loop; fairlearn takes minutes per replicate there), each with
## its ratio to reading the two CSVs; then per-group cost against the number of groups, and the
## null rejection rates of DeLong and the permutation test in small groups.
bench-stratify: $(STAMP)
	$(PY) benchmarks/stratify_speed.py --rows 100000 --hs-bootstrap
	$(PY) benchmarks/stratify_speed.py --rows 1000000 --baselines sklearn --hs-metrics-all
	$(PY) benchmarks/stratify_groups.py --rows 1000000 --groups 27,200
	$(PY) benchmarks/small_group_null.py --sets 300 --permutations 499
	$(PY) benchmarks/stratify_speed.py --rows 1000000 --baselines none --shuffled

## make bench-flags: the flag rule (issue 16) on the NIH ChestX-ray14 labels with simulated scores:
## flagged groups with PPV/NPV allowed to flag, by default, and with margins (docs/benchmarks.md).
.PHONY: bench-flags
bench-flags: $(STAMP)
	PYTHONPATH=. $(PY) benchmarks/flag_rule_nih.py --seeds 0,1,2,3,4 --metadata $(HS_DATA_DIR)/nih-cxr14/Data_Entry_2017_v2020.csv.gz

## make bench-report: hs report over 10,000 test images against the same command with one worker.
bench-report: $(STAMP)
	PYTHONPATH=. $(PY) benchmarks/report_speed.py --repeat 2

## make bench-infer: hs embed against a plain PyTorch loop and the decode floor, DenseNet-121
## (224 x 224) and the small CNN (28 x 28) on CPU (docs/benchmarks.md). bench-infer-gpu: the same
## on a GPU with 16 decoding workers (docs/inference.md says what it measures).
bench-infer: $(STAMP)
	PYTHONPATH=. $(PY) benchmarks/infer_speed.py $(HS_DATA_DIR)

bench-infer-gpu: $(STAMP)
	PYTHONPATH=. $(PY) benchmarks/infer_speed.py $(HS_DATA_DIR) --device cuda --n 20000 --workers 16 --batch-size 256 --models densenet121

## make bench-train: CPU training speed of hs train against a plain PyTorch loop (docs/benchmarks.md).
bench-train: $(STAMP)
	PYTHONPATH=. $(PY) benchmarks/train_speed.py $(HS_DATA_DIR)

## make bench-saliency: does hs saliency point at a planted drain (occlusion and Grad-CAM side by
## side, pointing game against chance), and batched occlusion against one model call per patch at
## 28 x 28 and 224 x 224 (docs/benchmarks.md).
.PHONY: bench-saliency
bench-saliency: $(STAMP)
	PYTHONPATH=. $(PY) benchmarks/saliency_check.py $(HS_DATA_DIR) --out out/saliency_check
	PYTHONPATH=. $(PY) benchmarks/saliency_speed.py $(HS_DATA_DIR)
