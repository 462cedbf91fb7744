"""Offline-friendly ML-100K source: the RecBole wheel ships MovieLens-100K as atomic files.

``fetch_ml100k()`` runs ``pip download --no-deps recbole==1.2.1`` (through
``sys.executable -m pip``, so any configured index or mirror applies), extracts
``recbole/dataset_example/ml-100k/`` from the wheel into ``<cache>/ml-100k/`` and
returns that directory (``ml-100k.inter``, ``ml-100k.user``, ``ml-100k.item``, plus
the wheel's ``ml-100k.kg`` / ``ml-100k.link``). It is idempotent: a complete cache is
reused without touching the network. The default cache is ``data_cache/`` at the
repository root, which is gitignored; MovieLens files must never be committed.

CLI::

    python -m pipelines.data.fetch_movielens [--cache-dir DIR] [--force]
"""
from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from typing import List, Optional

RECBOLE_VERSION = "1.2.1"
WHEEL_PREFIX = "recbole/dataset_example/ml-100k/"
REQUIRED_FILES = ("ml-100k.inter", "ml-100k.user", "ml-100k.item")
DEFAULT_CACHE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "data_cache")


def is_cached(target: str) -> bool:
    """True when ``target`` holds every required ML-100K atomic file."""
    return all(os.path.isfile(os.path.join(target, f)) for f in REQUIRED_FILES)


def download_wheel(dest: str, version: str = RECBOLE_VERSION) -> str:
    """Downloads the RecBole wheel (no dependencies) into ``dest``; returns its path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           f"recbole=={version}", "-d", dest]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheels = glob.glob(os.path.join(dest, f"recbole-{version}-*.whl"))
    if result.returncode != 0 or not wheels:
        raise RuntimeError(f"`{' '.join(cmd)}` failed (exit {result.returncode}):\n"
                           f"{result.stderr.strip()[-2000:]}")
    return wheels[0]


def extract_ml100k(wheel: str, target: str) -> List[str]:
    """Extracts the wheel's ``dataset_example/ml-100k/`` files into ``target``.

    Files are written to a sibling temporary directory first and moved in one
    rename, so an interrupted run never leaves a half-filled cache behind.
    """
    with zipfile.ZipFile(wheel) as zf:
        members = [m for m in zf.namelist() if m.startswith(WHEEL_PREFIX) and
                   not m.endswith("/") and "/" not in m[len(WHEEL_PREFIX):]]
        names = [m[len(WHEEL_PREFIX):] for m in members]
        missing = [f for f in REQUIRED_FILES if f not in names]
        if missing:
            raise RuntimeError(f"{wheel}: no {missing} under {WHEEL_PREFIX}; found {names}")
        parent = os.path.dirname(os.path.abspath(target))
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".ml-100k-", dir=parent)
        for member, name in zip(members, names):
            with zf.open(member) as src, open(os.path.join(staging, name), "wb") as dst:
                shutil.copyfileobj(src, dst)
    if os.path.isdir(target):
        shutil.rmtree(target)
    os.replace(staging, target)
    return sorted(names)


def fetch_ml100k(cache_dir: Optional[str] = None, force: bool = False,
                 version: str = RECBOLE_VERSION) -> str:
    """Returns ``<cache_dir>/ml-100k`` with the RecBole ML-100K files, fetching if needed.

    Args:
      cache_dir: cache root (default: ``data_cache/`` at the repository root).
      force: download and extract again even when the cache is complete.
      version: RecBole release whose wheel carries the dataset.

    Raises:
      RuntimeError: pip failed (e.g. no network and nothing cached) or the wheel
        lacks the dataset.
    """
    target = os.path.join(cache_dir or DEFAULT_CACHE, "ml-100k")
    if is_cached(target) and not force:
        return target
    with tempfile.TemporaryDirectory(prefix="recbole-wheel-") as tmp:
        extract_ml100k(download_wheel(tmp, version), target)
    return target


def main(argv: Optional[List[str]] = None) -> None:
    """CLI: fetch (or reuse) the cache and print the directory and its files."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", default=None, help=f"default: {DEFAULT_CACHE}")
    parser.add_argument("--force", action="store_true", help="re-download even if cached")
    args = parser.parse_args(argv)
    target = fetch_ml100k(args.cache_dir, args.force)
    print(target)
    for name in sorted(os.listdir(target)):
        print(f"  {name}\t{os.path.getsize(os.path.join(target, name))} bytes")


if __name__ == "__main__":
    main()
