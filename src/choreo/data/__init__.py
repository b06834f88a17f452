"""Data for training: motion representations, normaliser, data sources, splits and training windows.

Heavy modules are imported on use: ``from choreo.data.datasets import build_dataset``.
"""
