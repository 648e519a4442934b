# The two set-up commands of the README: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

$(BIN)/complab: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/complab

.PHONY: install demo test browser
install: $(BIN)/complab

# Debian's Chromium and ChromeDriver, for the HTML report's browser test; where they
# cannot be installed (not root, no apt-get) that test is skipped and says so.
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "chromium is not installed: the report's browser test will be skipped"; fi; \
	fi

# The flagship claim at the cpu tier over 3 seeds (two worker processes), then the report.
# The report is written whatever the verdict; the exit code is the claim check's.
demo: install
	$(BIN)/complab run gated_rnn_discovers_attention --num-seeds 3 --jobs 2 --check; status=$$?; \
	$(BIN)/complab report && exit $$status

test: install browser
	$(BIN)/pytest -q
