"""The extract stage as a real process with small shards, for the tests that launch or kill it.

Usage: ``python tests/extract_process.py SHARD_IMAGES [STOP_AFTER] -- extract options``.
With STOP_AFTER > 0 the process prints ``staged N`` once it has staged that many shards
and then waits, to be killed.
"""

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "src")]

import ssmll.encoding.staging  # noqa: E402
import ssmll.encoding.store  # noqa: E402
from stages.extract import cli  # noqa: E402


def _stop_after(n: int) -> None:
    write = ssmll.encoding.staging.Staging.write
    done = []

    def write_then_wait(self, *args, **kwargs):
        write(self, *args, **kwargs)
        done.append(1)
        if len(done) == n:
            print(f"staged {n}", flush=True)
            time.sleep(600)

    ssmll.encoding.staging.Staging.write = write_then_wait


if __name__ == "__main__":
    split = sys.argv.index("--")
    shard, *stop = sys.argv[1:split]
    ssmll.encoding.store.SHARD_IMAGES = int(shard)
    if stop and int(stop[0]) > 0:
        _stop_after(int(stop[0]))
    cli(sys.argv[split + 1 :])
