"""The input side: read, validate and edit instances, and make new ones.

``read_instance`` turns a folder, workbook or JSON file into a typed, validated ``Instance``.
"""

from __future__ import annotations

from allocator.instance import (  # noqa: F401  (register the .dow, planar/grid and CTSND readers)
    ctsnd,
    dow,
    mcnf,
)
from allocator.instance.io import read_raw, write_instance
from allocator.instance.model import Instance
from allocator.instance.validate import read_instance, validate

__all__ = ["Instance", "read_instance", "read_raw", "validate", "write_instance"]
