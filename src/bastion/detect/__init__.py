"""Detectors over every segment → findings (engine arrives with the detection work)."""
