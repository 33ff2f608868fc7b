"""Flavum's one error hierarchy, all layers together.

Each layer keeps its own errors beside its code (core/errors.py for the state transition and
the errors every layer shares, ml/, zk/, l1/, da/ errors.py, the client's in client.py), all
under `FlavumError`. This module loads them all so that an error's stable `code` (what the
API and the CLI's --json carry) maps back to its class, whichever layer raised it.
"""

# Imported for their classes: a class is found among FlavumError's subclasses once loaded.
import flavum.da.errors  # noqa: F401
import flavum.l1.errors  # noqa: F401
import flavum.ml.errors  # noqa: F401
import flavum.zk.errors  # noqa: F401
from flavum.core.errors import FlavumError


def error_for_code(code: str) -> type[FlavumError]:
    """The error class with this `code` (FlavumError itself for an unknown one)."""
    stack: list[type[FlavumError]] = [FlavumError]
    while stack:
        cls = stack.pop()
        if cls.code == code:
            return cls
        stack.extend(cls.__subclasses__())
    return FlavumError
