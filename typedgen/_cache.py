"""typedgen's on-disk cache: where converted artefacts live and how they are published.

Everything typedgen converts once per machine (the default model, tokenizer fixtures) lives
under :func:`cache_dir` and is written with :func:`publish_folder`, so that a folder that exists
under its final name is always complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["cache_dir", "publish_folder"]


def cache_dir() -> Path:
    """The cache folder: ``$TYPEDGEN_CACHE_DIR``, else ``~/.cache/typedgen``."""
    configured = os.environ.get("TYPEDGEN_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "typedgen"


@contextmanager
def publish_folder(target: Path) -> Iterator[Path]:
    """Yield an empty hidden staging folder beside ``target``; when the block ends without an
    exception, rename it to ``target`` in one atomic step.

    A crash inside the block leaves at most a hidden ``.name-*`` folder, never ``target``.
    When a concurrent writer published ``target`` first, this copy is discarded.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        yield staging
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
