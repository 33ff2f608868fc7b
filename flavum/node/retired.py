"""Retiring a home's rollup state when its contracts are replaced (`flavum l1 deploy --force`).

A new deployment is a new rollup: a new rollup id, so every transaction of the old store is
signed for another domain, and its batches must never reach the new contracts. The node's
store, its ledger watchers' cursors, its proofs and the old deployment file and config move
into `retired-N/` in the home (N the first free number): the node then starts from genesis,
and nothing is lost. Keys, circuits, the SRS and batch data (content-addressed) stay.
"""

import shutil
from pathlib import Path

STATE_PATTERNS = ("node.db", "node.db-*", "watcher-*.db", "proofs")


def retire_home_state(home: Path, extra: tuple[Path, ...] = ()) -> Path | None:
    """Move the home's rollup state (and the files `extra`, copied when they must stay) into
    a new `retired-N/` folder; None when there was no state to move."""
    found = sorted({p for pattern in STATE_PATTERNS for p in home.glob(pattern)})
    kept = [p for p in extra if p.exists()]
    if not found and not kept:
        return None
    number = 1
    while (home / f"retired-{number}").exists():
        number += 1
    folder = home / f"retired-{number}"
    folder.mkdir(mode=0o700)
    for path in found:
        shutil.move(path, folder / path.name)
    for path in kept:
        shutil.copy2(path, folder / path.name)
    return folder


def has_home_state(home: Path) -> bool:
    """Does the home hold a node store (a rollup state that a new deployment would orphan)?"""
    return (home / "node.db").exists()
