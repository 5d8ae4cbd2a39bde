"""The results workflow on the real data: the CPU profile, tuning, the masking grid and the
reference rows (commands that run the pipeline through DVC and write ``reports/``)."""
