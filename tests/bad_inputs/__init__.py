"""A corpus of small, deliberately broken extracts, written on demand by :mod:`make_corpus`."""
