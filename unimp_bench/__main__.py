"""`python -m unimp_bench ...` is the `unimp-bench` command."""
from unimp_bench.cli import app

app()
