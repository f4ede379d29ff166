# plitool — see README.md. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench install clean i18n

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,spark]'
	touch $(STAMP)

install: $(STAMP)

## make demo: run the whole pipeline on the fictional sample cases (samples/) in demo-case/, the
## QuickRide case (plitool demo) in demo-case/quickride/
demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash samples/demo.sh

## make test: the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest

## make bench: the benchmarks under bench/ (plitool side by side with the reference tools)
bench: $(STAMP)
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/seal.py
	$(BIN)/python bench/scan.py
	$(BIN)/python bench/hostile.py --no-before
	$(BIN)/python bench/attribute.py
	$(BIN)/python bench/attribute_engines.py --sizes 100000
	$(BIN)/python bench/bundle.py
	$(BIN)/python bench/draft.py
	$(BIN)/python bench/ocr.py
	$(BIN)/python bench/scale.py --sizes 10000,100000

## make i18n: extract the messages into plitool/locale/plitool.pot, update each .po, compile the
## .mo and count what is left to translate (see README, "Translations")
i18n: $(STAMP)
	$(BIN)/python tools/i18n.py extract
	$(BIN)/python tools/i18n.py compile
	$(BIN)/python tools/i18n.py untranslated

clean:
	rm -rf demo-case .bench .pytest_cache
