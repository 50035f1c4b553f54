"""The detection benchmark: Bastion's detectors beside Presidio, speed and accuracy.

``python -m bench.detect [--quick]`` times the detectors and writes
``bench/results/detect-<date>-<commit>.json`` plus the Detection tables in
``bench/README.md``; ``python -m bench.detect.accuracy`` scores them on the labelled
development data and writes ``docs/accuracy.md``. See bench/README.md for the method.
"""
