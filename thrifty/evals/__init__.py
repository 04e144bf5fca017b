"""Evaluation: metrics now; datasets, scorers and the batch runner come with the evals work."""
