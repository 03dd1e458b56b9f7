"""Offline testimony pipeline: interviews in, reviewable transcripts and English out."""

__version__ = "0.1.0"
