"""The simulator's order and fill ids are the UUIDs the uuid module would make."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from ratchet.sim.execution import uuid4_text


@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_ids_are_exactly_uuid4_of_the_same_bits(bits: int) -> None:
    assert uuid4_text(bits) == str(uuid.UUID(int=bits, version=4))


def test_the_extremes() -> None:
    for bits in (0, 2**128 - 1, 0xC000 << 48, 0xF000 << 64):
        text = uuid4_text(bits)
        assert text == str(uuid.UUID(int=bits, version=4))
        assert uuid.UUID(text).version == 4
