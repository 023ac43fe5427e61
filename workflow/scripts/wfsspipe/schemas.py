"""JSON schemas of the workflow (``workflow/schemas``) and table checks a schema cannot express."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import pandas as pd
import yaml

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


@functools.cache
def load_schema(name: str) -> dict:
    return yaml.safe_load((SCHEMA_DIR / name).read_text())


@functools.cache
def _compiled(name: str):
    # fastjsonschema compiles the schema to Python: ~100x faster than jsonschema per row, which
    # matters for tables of thousands of exposures checked at every Snakemake start.
    import fastjsonschema

    # Our schemas declare draft 2020-12 (what Snakemake's validate expects) but use only keywords
    # that mean the same in draft 7, the newest fastjsonschema compiles.
    schema = {key: value for key, value in load_schema(name).items() if key != "$schema"}
    return fastjsonschema.compile(schema)


def _records(table: pd.DataFrame):
    for record in table.to_dict("records"):
        yield {
            key: None
            if (value is pd.NA or (isinstance(value, float) and math.isnan(value)))
            else value
            for key, value in record.items()
        }


def validate_fields(table: pd.DataFrame, limit: int = 20) -> list[str]:
    """Problems with a fields table (empty list when it is good): schema, then uniqueness."""
    import fastjsonschema

    check = _compiled("fields.schema.yaml")
    problems = []
    for number, record in enumerate(_records(table)):
        try:
            check(record)
        except fastjsonschema.JsonSchemaValueException as error:
            problems.append(f"row {number + 2} ({record.get('obs_id', '?')}): {error.message}")
            if len(problems) >= limit:
                break
    for column in ("obs_id", "filename"):
        if column in table:
            duplicated = table.loc[table[column].duplicated(), column]
            if len(duplicated):
                problems.append(f"duplicate {column}: {', '.join(duplicated.unique()[:5])}")
    return problems
