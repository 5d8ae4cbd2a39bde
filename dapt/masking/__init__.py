"""Masking units (gold entities, lexicon matches, words, tokens), strategies, statistics."""
