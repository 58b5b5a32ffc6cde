"""Catalog Import API: staged catalog imports with natural-key resolvers and level-by-level commits."""

__version__ = "0.1.0"
