"""The overhead benchmark: Bastion against direct calls, a pass-through floor and LiteLLM.

``python -m bench.overhead [--quick]`` starts every target on loopback, measures them in
alternating rounds and writes ``bench/results/overhead-<date>-<commit>.json`` and the
tables in ``bench/README.md``. See bench/README.md for the method.
"""
