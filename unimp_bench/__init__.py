"""The `unimp-bench` command line and the demo (top of the import layers: benchmark and leaderboard below)."""
