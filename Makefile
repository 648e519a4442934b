# The two set-up commands of the README: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

$(BIN)/complab: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/complab

.PHONY: install demo test
install: $(BIN)/complab

# The flagship claim at the cpu tier over 3 seeds, then the report.
# The report is written whatever the verdict; the exit code is the claim check's.
demo: install
	$(BIN)/complab run gated_rnn_discovers_attention --num-seeds 3 --check; status=$$?; \
	$(BIN)/complab report && exit $$status

test: install
	$(BIN)/pytest -q
