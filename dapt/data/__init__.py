"""Documents, brat/corpus readers, brat writer, character encoding, windows, tokenizers and
the artifact contracts (``contracts``) that stages write and read."""
