"""``python -m benchmarks.cuda_peak MODULE ARGS...``: run MODULE as ``python -m`` would, then print its peak GPU memory.

The stages say nothing of GPU memory; ``scale.py`` (and through it ``gpu_check.py``) read the
line this prints on stderr at exit: PyTorch's peak reserved and allocated bytes on the current
GPU. Nothing is printed when the module never touched CUDA.
"""

from __future__ import annotations

import atexit
import runpy
import sys

import torch

PREFIX = "peak GPU memory:"


def _report() -> None:
    if torch.cuda.is_initialized():
        reserved, allocated = torch.cuda.max_memory_reserved(), torch.cuda.max_memory_allocated()
        print(f"{PREFIX} {reserved} bytes reserved, {allocated} bytes allocated", file=sys.stderr)


def main() -> None:
    module = sys.argv[1]
    sys.argv = sys.argv[1:]
    atexit.register(_report)  # runs after the module's sys.exit too
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
