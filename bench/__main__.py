"""`python -m bench` (or `make bench`): see bench/__init__.py."""

from bench.suite import main

main()
