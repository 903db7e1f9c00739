# Two commands set up everything: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Starts the embedded PostgreSQL/Redis when DATABASE_URL/REDIS_URL are unset, then runs the command.
WITH_SERVICES := $(BIN)/python -m registry_project.bootstrap exec --

.PHONY: run test install migrate admin lock schema sync clean

$(BIN)/.installed: requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	touch $@

install: $(BIN)/.installed

migrate: install
	$(WITH_SERVICES) $(BIN)/python manage.py migrate --no-input

admin: migrate
	$(WITH_SERVICES) $(BIN)/python manage.py ensure_admin

# `make run` serves plain http on 127.0.0.1, where Secure cookies would block the admin login.
run: export DJANGO_SECURE_COOKIES ?= false
run: admin
	$(WITH_SERVICES) $(BIN)/python manage.py collectstatic --no-input --verbosity 0
	@echo "Admin:   http://127.0.0.1:$${PORT:-8000}/admin/"
	@echo "Catalog: http://127.0.0.1:$${PORT:-8000}/"
	@echo "API:     http://127.0.0.1:$${PORT:-8000}/v0.1/servers"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(WITH_SERVICES) honcho start --port $${PORT:-8000}

test: install
	$(WITH_SERVICES) $(BIN)/pytest $(PYTEST_ARGS)

sync: migrate
	$(WITH_SERVICES) $(BIN)/python manage.py mirror_sync

schema: install
	$(WITH_SERVICES) $(BIN)/python manage.py spectacular --file schema.yaml

lock:
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements-dev.lock

clean:
	rm -rf $(VENV) staticfiles
