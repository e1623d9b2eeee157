"""Shoal: a grid process manager with OMERO.grid's descriptors, properties and workflow."""

from shoal.lean import defer_protobuf_python_message

__version__ = "0.1.0"

__all__ = ["__version__"]

# Before any of Shoal's modules imports protobuf, whichever is imported first: see shoal.lean.
defer_protobuf_python_message()
