"""Checks of free-form JSON that the push stage and the custom entities share: what PostgreSQL's jsonb can
hold, how deep a value may nest, and a value against a declared JSON Schema."""

from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
from referencing.exceptions import Unresolvable


def no_nul(value: str) -> str:
    """PostgreSQL text and jsonb cannot hold NUL (U+0000)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


MAX_JSON_DEPTH = 32
"""Deepest nesting of objects and lists accepted in free-form JSON fields (``customFields``)."""


def plain_json(value: Any) -> Any:
    """A free-form JSON value nested at most ``MAX_JSON_DEPTH`` deep whose strings, keys included, hold no
    NUL (see ``no_nul``); walked without recursion."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            no_nul(item)
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"must not be nested more than {MAX_JSON_DEPTH} levels deep")
            children = [*item, *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return value


def schema_problems(fields_schema: dict[str, Any], data: Any, *, partial: bool) -> Iterator[tuple[str, str]]:
    """(path inside ``data``, message) of every part of ``data`` that breaks the schema; a missing required
    field is reported at its own path. ``partial``: an update of the fields it carries, so the top-level
    ``required`` does not apply."""
    if partial:
        fields_schema = {key: value for key, value in fields_schema.items() if key != "required"}
    validator = Draft202012Validator(fields_schema)
    try:
        found = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    except Unresolvable as exc:
        yield "", f"The custom entity's schema cannot be applied: {exc}"
        return
    for problem in found:
        parts = [str(part) for part in problem.absolute_path]
        if problem.validator == "required" and isinstance(problem.instance, dict):
            for missing in problem.validator_value:
                if missing not in problem.instance:
                    yield ".".join([*parts, str(missing)]), f"{missing!r} is a required property"
            continue
        yield ".".join(parts), problem.message
