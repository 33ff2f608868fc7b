"""Named crash points, for the crash harness (bench/crash.py): with FLAVUM_CRASH_AT="stage" (or
"stage:n") in its environment the node kills itself (SIGKILL: nothing flushed, nothing
cleaned up) the first (n-th) time it reaches `stage`. Unset, a crash point does nothing.

Stages: `accepted` (a transaction is durable in the store, its receipt not yet returned),
`published` (a batch's data is in the data store, the batch not yet recorded), `proven` (a
proof is made, not yet stored), `posted` (a batch is on the ledger, the node has not recorded
it).
"""

import os
import signal

# Read once: the harness sets it before the node starts, and a crash point sits on the
# sequencer's hot path (every accepted transaction).
_SPEC = os.environ.get("FLAVUM_CRASH_AT", "")
_counts: dict[str, int] = {}


def crash_point(stage: str) -> None:
    if not _SPEC:
        return
    name, _, nth = _SPEC.partition(":")
    if name != stage:
        return
    _counts[stage] = _counts.get(stage, 0) + 1
    if _counts[stage] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
