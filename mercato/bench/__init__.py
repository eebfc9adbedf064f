"""The benchmarks behind ``mercato bench``: each prints its figures (``--json`` for machines). None of
it ships to Lambda."""
