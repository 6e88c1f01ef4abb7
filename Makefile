# The two commands of the README. Both create .venv (Python 3.12) on first use.
.PHONY: demo test venv clean

demo: venv
	.venv/bin/microbat demo

test: venv
	bash scripts/test.sh

venv:
	bash scripts/setup.sh

clean:
	rm -rf results .pytest_cache
