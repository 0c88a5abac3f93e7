"""Models evaluated by unimp-bench (UniMP in `models.unimp`)."""
