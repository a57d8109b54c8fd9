"""Datasets, preprocessing, stimulus sets and human data."""
