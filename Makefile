# Two commands set up everything: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
VAR_DIR := $(or $(REGISTRY_VAR_DIR),var)
BOOTSTRAP := $(BIN)/python -m registry_project.bootstrap
# Starts the embedded PostgreSQL/Redis when DATABASE_URL/REDIS_URL are unset, then runs the command.
WITH_SERVICES := $(BOOTSTRAP) exec --
URL = http://127.0.0.1:$${PORT:-8000}

.PHONY: run serve test install migrate admin lock schema sync stop clean

$(BIN)/.installed: requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	touch $@

install: $(BIN)/.installed

migrate: install
	$(WITH_SERVICES) $(BIN)/python manage.py migrate --no-input

admin: migrate
	$(WITH_SERVICES) $(BIN)/python manage.py ensure_admin --password-file $(VAR_DIR)/admin_password

# One `make run` at a time per var/ directory: it holds var/run.lock from the first step to the last,
# and a second one stops at once naming the holder.
run: install
	@$(BOOTSTRAP) exec --exclusive -- $(MAKE) --no-print-directory serve

# `make run` without the lock. It serves plain http on 127.0.0.1, where Secure cookies would block the
# admin login.
serve: export DJANGO_SECURE_COOKIES ?= false
serve: admin
	$(WITH_SERVICES) $(BIN)/python manage.py collectstatic --no-input --verbosity 0
	@echo "Catalog: $(URL)/"
	@echo "Admin:   $(URL)/admin/ (user admin)"
	@test ! -f $(VAR_DIR)/admin_password || echo "         its generated password is in $(VAR_DIR)/admin_password"
	@echo "API:     $(URL)/v0.1/servers"
	@echo "Docs:    $(URL)/docs"
	@echo "Health:  $(URL)/health/ and $(URL)/health/worker/"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(WITH_SERVICES) honcho start --port $${PORT:-8000}

test: install
	$(WITH_SERVICES) $(BIN)/pytest $(PYTEST_ARGS)

sync: migrate
	$(WITH_SERVICES) $(BIN)/python manage.py mirror_sync

schema: install
	$(WITH_SERVICES) $(BIN)/python manage.py spectacular --file schema.yaml

# Stops the embedded PostgreSQL and Redis, which keep running after `make run` so the next start is quick.
stop: install
	$(BOOTSTRAP) stop

# uv pinned too: another version may write the locks differently.
lock:
	$(BIN)/pip install --quiet uv==0.13.9
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements-dev.lock

clean:
	rm -rf $(VENV) staticfiles
