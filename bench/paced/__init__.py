"""Streaming at a model's pace: time to the first words through each target."""
