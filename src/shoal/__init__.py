"""Shoal: a grid process manager with OMERO.grid's descriptors, properties and workflow."""

__version__ = "0.1.0"

__all__ = ["__version__"]
