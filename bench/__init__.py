"""Benchmarks (run each as a module: python -m bench.<name>); figures go to docs/benchmarks.md."""
