"""Speed and size benchmarks (not run in CI): run as ``python -m bench.<name>`` from the
repository root, so that ``stages`` is importable."""
