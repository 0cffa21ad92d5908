"""DVC stage commands, one Typer app per stage (run as ``python -m stages.<name>``).

Putting this checkout's ``src/`` first on ``sys.path`` makes every stage run the library
code of its own workspace, also in the temporary copies that ``dvc exp run --queue``
executes, whatever ``ssmll`` an editable install points to.
"""

import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parent.parent / "src")
if sys.path[0] != _SRC:
    sys.path.insert(0, _SRC)
