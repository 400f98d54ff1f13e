"""The schema revisions ratchet knows, and how it refuses the ones it does not."""

from __future__ import annotations

from ratchet.store import schema
from ratchet.store.schema import SchemaStatus


def test_the_revisions_are_v1_then_v2() -> None:
    # Act / Assert
    assert schema.known_revisions() == ("v1", "v2")
    assert schema.head_revision() == "v2"


def test_a_newer_numbered_revision_asks_for_a_newer_ratchet() -> None:
    # Act
    message = schema.refusal("v3", "v2")

    # Assert
    assert message == (
        "database schema is at revision v3, this ratchet knows up to v2; upgrade ratchet"
    )


def test_a_revision_that_is_not_ours_is_called_unknown() -> None:
    # Act
    message = schema.refusal("ae1027a6acf", "v2")

    # Assert
    assert message.startswith("database schema is at unknown revision 'ae1027a6acf'")
    assert "v1, v2" in message


def test_the_status_line_says_what_to_do() -> None:
    # Act / Assert
    assert "ratchet db migrate" in SchemaStatus(None, "v2").describe()
    assert "ratchet db migrate" in SchemaStatus("v1", "v2").describe()
    assert SchemaStatus("v2", "v2").describe() == "v2 (up to date)"
    assert SchemaStatus("v2", "v2").up_to_date
