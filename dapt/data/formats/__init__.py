"""Document formats in and out: one module per format, one registry (``registry``)."""
