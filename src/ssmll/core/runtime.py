"""The runtime knobs: they change speed, never the output bytes.

One definition, so that the extract stage, ``ssmll predict`` and library callers share their defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: Decoding worker processes by default: a few, never more than the machine's cores.
DEFAULT_WORKERS = min(4, os.cpu_count() or 1)


@dataclass
class Runtime:
    """Where and how fast to encode: device, images per decoding batch, decoding workers, progress bar."""

    device: str = "cpu"
    batch_size: int = 64
    workers: int = DEFAULT_WORKERS
    progress: bool = True
