# The two commands of the README. Both create .venv (Python 3.12) on first use.
.PHONY: demo test venv clean

# The model runs on two MPI ranks (same result as one rank; measured faster on 2 cores).
demo: venv
	.venv/bin/mpiexec -n 2 .venv/bin/microbat demo

test: venv
	bash scripts/test.sh

venv:
	bash scripts/setup.sh

clean:
	rm -rf results .pytest_cache
