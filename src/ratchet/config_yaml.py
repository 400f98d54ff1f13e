"""The YAML loader of the configuration: safe, floats read as exact Decimals, no duplicate keys."""

from __future__ import annotations

from collections.abc import Hashable
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml  # type: ignore[import-untyped]


class ExactLoader(yaml.SafeLoader):
    """Safe YAML with floats read as exact Decimals and duplicate keys refused."""


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return Decimal(str(node.value).replace("_", ""))
    except InvalidOperation:
        return loader.construct_yaml_float(node)  # .inf / .nan: refused by the validators


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Hashable, Any]:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


ExactLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
ExactLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
