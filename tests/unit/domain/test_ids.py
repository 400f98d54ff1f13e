"""Deterministic ids: a client_order_id survives str() and parse(), and foreign ids are not ours."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet.domain.ids import ClientOrderId, IdError, OrderRole, position_id

FAST = settings(max_examples=200, deadline=None)

prefixes = st.from_regex(r"[a-z][a-z0-9]{1,15}", fullmatch=True)
pairs = st.from_regex(r"[A-Z0-9]{1,12}-[A-Z0-9]{1,12}", fullmatch=True)
roles = st.sampled_from(OrderRole)
sequences = st.integers(1, 10**9)


@st.composite
def client_order_ids(draw: st.DrawFn) -> ClientOrderId:
    """Any valid client_order_id, its position id made by ``position_id``."""
    return ClientOrderId(
        draw(prefixes),
        position_id(draw(pairs), draw(st.integers(1, 10**8))),
        draw(roles),
        draw(sequences),
    )


# -- round trip ------------------------------------------------------------------------------
@FAST
@given(cid=client_order_ids())
def test_client_order_id_survives_str_and_parse(cid: ClientOrderId) -> None:
    # Act
    parsed = ClientOrderId.parse(str(cid), cid.prefix)
    # Assert
    assert parsed == cid
    assert str(parsed) == str(cid)


@FAST
@given(cid=client_order_ids(), other=prefixes)
def test_an_id_with_another_prefix_is_not_ours(cid: ClientOrderId, other: str) -> None:
    # Act
    parsed = ClientOrderId.parse(str(cid), other)
    # Assert
    assert (parsed is None) is (other != cid.prefix)


@FAST
@given(text=st.text(max_size=60), prefix=prefixes)
def test_garbage_is_not_ours(text: str, prefix: str) -> None:
    # Act
    parsed = ClientOrderId.parse(text, prefix)
    # Assert: whatever parses is ours and prints back as the same text
    assert parsed is None or (parsed.prefix == prefix and str(parsed) == text)


@FAST
@given(pair=pairs, sequence=st.integers(1, 10**8))
def test_position_id_is_deterministic(pair: str, sequence: int) -> None:
    # Act
    first, second = position_id(pair, sequence), position_id(pair, sequence)
    # Assert
    assert first == second
    assert first.startswith(f"{pair}#")
    assert int(first.partition("#")[2]) == sequence


# -- examples --------------------------------------------------------------------------------
def test_the_documented_example() -> None:
    # Arrange
    cid = ClientOrderId("rt", position_id("ETH-BTC", 42), OrderRole.STOP, 3)
    # Act
    text = str(cid)
    # Assert
    assert text == "rt-ETH-BTC-000042-stop-3"
    assert ClientOrderId.parse(text, "rt") == cid


def test_the_same_parts_give_the_same_id() -> None:
    # Act
    first = ClientOrderId("rt", "ADA-BTC#000007", OrderRole.ENTRY, 1)
    again = ClientOrderId("rt", "ADA-BTC#000007", OrderRole.ENTRY, 1)
    # Assert
    assert str(first) == str(again)
    assert first == again


@pytest.mark.parametrize(
    "text",
    [
        "",
        "rt",
        "xx-ETH-BTC-000042-stop-3",  # another instance's prefix
        "rt-ETH-BTC-000042-limit-3",  # unknown role
        "rt-ETH-BTC-42-stop-3",  # position sequence too short
        "rt-ETH-BTC-00042-stop-3",
        "rt-eth-btc-000042-stop-3",  # lowercase pair
        "rt-ETH-BTC-000042-stop-",  # no order sequence
        "rt-ETH-BTC-000042-stop-0",  # order sequence 0
        "rt-ETHBTC-000042-stop-3",  # no dash in the pair
        "RT-ETH-BTC-000042-stop-3",
        "550e8400-e29b-41d4-a716-446655440000",  # someone else's uuid
    ],
)
def test_foreign_or_malformed_ids_parse_to_none(text: str) -> None:
    # Act / Assert
    assert ClientOrderId.parse(text, "rt") is None


# -- bad parts -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("prefix", "pos_id", "sequence"),
    [
        ("r", "ETH-BTC#000001", 1),  # prefix too short
        ("r" * 17, "ETH-BTC#000001", 1),  # prefix too long
        ("1rt", "ETH-BTC#000001", 1),  # starts with a digit
        ("Rt", "ETH-BTC#000001", 1),  # capital
        ("r-t", "ETH-BTC#000001", 1),
        ("rt", "ETH-BTC", 1),  # no sequence
        ("rt", "ETH-BTC#", 1),
        ("rt", "ETH-BTC#abc", 1),
        ("rt", "eth-btc#000001", 1),
        ("rt", "ETHBTC#000001", 1),
        ("rt", "ETH-BTC#000001", 0),
        ("rt", "ETH-BTC#000001", -1),
    ],
)
def test_bad_parts_raise(prefix: str, pos_id: str, sequence: int) -> None:
    # Act / Assert
    with pytest.raises(IdError):
        ClientOrderId(prefix, pos_id, OrderRole.ENTRY, sequence)


@pytest.mark.parametrize(
    ("pair", "sequence"), [("ETH-BTC", 0), ("ETH-BTC", -3), ("ETHBTC", 1), ("eth-btc", 1)]
)
def test_bad_position_ids_raise(pair: str, sequence: int) -> None:
    # Act / Assert
    with pytest.raises(IdError):
        position_id(pair, sequence)


# -- known gaps (src bugs) -------------------------------------------------------------------
@pytest.mark.parametrize("text", ["rt-ETH-BTC-000042-stop-3\n", "rt-ETH-BTC-000042-stop-03"])
def test_only_the_canonical_text_parses(text: str) -> None:
    # Act
    parsed = ClientOrderId.parse(text, "rt")
    # Assert
    assert parsed is None or str(parsed) == text


@pytest.mark.parametrize(
    ("prefix", "pos_id", "sequence"),
    [
        ("rt", "ETH-BTC#1", 1),  # fewer than 6 digits: str() is not parseable
        ("rt\n", "ETH-BTC#000001", 1),  # trailing newline passes the '$' anchor
        ("rt", "ETH-BTC#000001", True),  # a bool is not a sequence number
    ],
)
def test_parts_that_would_not_round_trip_are_refused(
    prefix: str, pos_id: str, sequence: int
) -> None:
    # Act / Assert
    with pytest.raises(IdError):
        ClientOrderId(prefix, pos_id, OrderRole.ENTRY, sequence)
