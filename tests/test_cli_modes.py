"""`flavum model deploy`'s row-mode flags: one circuit input visibility each, never two."""

import pytest

from flavum.cli import _input_visibility
from flavum.ml.errors import InvalidInput


def test_each_flag_names_its_mode():
    assert _input_visibility(kzg_inputs=False, public_rows=False) == "hashed"
    assert _input_visibility(kzg_inputs=True, public_rows=False) == "polycommit"
    assert _input_visibility(kzg_inputs=False, public_rows=True) == "public"


def test_both_flags_are_refused():
    with pytest.raises(InvalidInput, match="exclude each other"):
        _input_visibility(kzg_inputs=True, public_rows=True)
