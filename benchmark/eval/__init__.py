"""Evaluation: run a model over the tasks, score predictions, write run folders and summaries."""
