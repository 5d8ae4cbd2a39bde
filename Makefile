# Entry points. `make repro` and `make test` set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup check-env repro test test-fast lint demo-data sweep report general real grid clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Can this machine reproduce the committed results bit for bit (dapt.numerics)? repro and
# general print the answer first and run either way.
check-env: setup  ## compare this machine's numerical environment with the committed run's
	$(BIN)/python -m dapt.numerics

repro: setup  ## run the whole pipeline on the demo default
	-$(BIN)/python -m dapt.numerics
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/dvc repro

# Two pytest workers of one torch thread each (OMP_NUM_THREADS, inherited by the stages
# the tests start): more threads than cores oversubscribe the CPU and slow the suite.
test: setup  ## lint + the full test suite (CI's)
	$(BIN)/ruff check .
	PATH=$(abspath $(BIN)):$$PATH OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile

test-fast: setup  ## lint + the tests not marked slow (none runs DVC or a whole pipeline)
	$(BIN)/ruff check .
	PATH=$(abspath $(BIN)):$$PATH OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile \
	  -m "not slow"

lint: setup
	$(BIN)/ruff check .

demo-data: setup  ## regenerate data/demo (byte-identical)
	$(BIN)/python scripts/make_demo_data.py

# Grid of masking settings x seeds through DVC's own queue; then the ablation report.
SWEEP ?= -S mask_strategy=token,entity -S seed=1,2,3
BASELINE ?= mask_strategy=token
JOBS ?= 1

sweep: setup  ## queue the SWEEP grid, run it, write reports/ablation.md
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/dvc exp run --queue $(SWEEP)
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/dvc exp run --run-all --jobs $(JOBS)
	$(MAKE) report

report: setup  ## ablation report of all experiments in the repo
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m dapt.report --baseline "$(BASELINE)"

# The real-data CPU profile (params_real_cpu.yaml) on the shared TCM data; needs the
# general checkpoint first (dvc repro general/dvc.yaml, ~25 min once).
REAL_DATA ?= $(abspath ../shared/data/tcm_ner)
# The masking grid of reports/real_tcm.md: six settings x seeds 1-3, two experiments at a time
# with one torch thread each (~70 min on 2 cores). GRID_ARGS adds options (dapt-grid --help),
# e.g. GRID_ARGS=--dry-run or GRID_ARGS=--resume.
GRID ?= --settings token-0.15 no-domain-pretraining token-at-entity-rate entity-0.5 \
  entity-0.5-budget-0.2 entity_token --jobs 2 --threads 1
GRID_ARGS ?=

general: setup  ## build the general-domain checkpoint general/model (once)
	-$(BIN)/python -m dapt.numerics --params general/params.yaml \
	  --metrics general/metrics/pretrain.json
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/dvc repro general/dvc.yaml

real: setup  ## run the whole pipeline with the real-data CPU profile as one experiment
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/dvc exp run \
	  $$($(BIN)/python -m dapt.experiments.profile --data "$(REAL_DATA)")

grid: setup  ## the masking grid on the real data (GRID, GRID_ARGS), then reports/real_tcm.md
	$(BIN)/dapt-grid --data "$(REAL_DATA)" $(GRID) $(GRID_ARGS)

clean:
	rm -rf data/split data/tokenized data/units data/masked data/predictions models dvclive
