"""Config validation with short messages: the key, what is wrong with it, and a "did you mean".

Snakemake's ``validate`` raises jsonschema's error, whose text is the offending schema branch and
the whole instance (50 lines for one typo). :func:`check_config` validates against the same
schema (JSON Schema 2020-12) and says, one line per problem::

    config: stage1.keep_uncall: unknown key; did you mean stage1.keep_uncal?
    config: download.retries: 'three' is not of type 'integer'
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

MAX_PROBLEMS = 5  # more than this and the rest are counted, not listed


class ConfigError(ValueError):
    """The configuration does not satisfy the schema; the message names every bad key."""


def check_config(config: Mapping[str, Any], schema_path: str | Path) -> None:
    """Raise :class:`ConfigError` naming each key of ``config`` that the schema refuses."""
    from jsonschema import Draft202012Validator

    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: _location(e.absolute_path))
    if not errors:
        return
    problems = [problem for error in errors for problem in describe(error)]
    shown = problems[:MAX_PROBLEMS]
    if len(problems) > len(shown):
        shown.append(f"... and {len(problems) - len(shown)} more")
    raise ConfigError(
        "\n".join(f"config: {line}" for line in shown)
        + "\n(config/config.yaml and any --configfile/--config; every key is documented in "
        "config/README.md)"
    )


def describe(error) -> list[str]:
    """One line per problem in a jsonschema ``ValidationError``."""
    where = _location(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = sorted(error.schema.get("properties", {}))
        lines = []
        for key in _unexpected(error.instance, error.schema):
            name = f"{where}.{key}" if where else str(key)
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = (
                f"did you mean {f'{where}.{close[0]}' if where else close[0]}?"
                if close
                else f"known keys{f' of {where}' if where else ''}: {', '.join(known)}"
            )
            lines.append(f"{name}: unknown key; {hint}")
        return lines
    message = _short(error.message)
    if error.validator == "enum" and isinstance(error.instance, str):
        choices = [str(c) for c in error.validator_value]
        close = difflib.get_close_matches(error.instance, choices, n=1, cutoff=0.6)
        message = _short(f"{error.instance!r} is not one of {', '.join(choices)}")
        if close:
            message = f"{error.instance!r}: did you mean {close[0]!r}? ({message})"
    return [f"{where or '(top level)'}: {message}"]


def _unexpected(instance: Mapping, schema: Mapping) -> Iterable[str]:
    import re

    known = set(schema.get("properties", {}))
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    for key in instance:
        if key not in known and not any(p.search(str(key)) for p in patterns):
            yield key


def _location(path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _short(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."
