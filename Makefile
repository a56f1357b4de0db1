# genjax: two commands. Each sets up .venv from the pinned requirements when it is missing.
PY      := .venv/bin/python
STAMP   := .venv/.installed
JOBS    ?= 2

.PHONY: demo test test-figures figures benchmarks clean-venv

$(STAMP): requirements.txt setup.cfg pyproject.toml
	test -x $(PY) || python3.11 -m venv .venv || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m experiments.demo --workdir runs/demo

# make test: every test except the figure scripts' end-to-end --quick runs (marker `figures`), which
# make test-figures runs (each script in its own process, the digits models trained first: ~15 min).
# CI (.ci/run) runs both.
test: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadfile -m "not figures" tests

test-figures: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadfile -m figures tests

# make figures [QUICK=1] [ONLY=deer_speed,edm_sampler_error] [JOBS_FIG=1]: every figure script into
# docs/figures/ (QUICK=1: the --quick modes into runs/figures_quick/, docs/figures untouched).
JOBS_FIG ?= 1
figures: $(STAMP)
	$(PY) -m experiments.papers.figures $(if $(QUICK),--quick) $(if $(ONLY),--only $(ONLY)) --jobs $(JOBS_FIG)

clean-venv:
	rm -rf .venv
