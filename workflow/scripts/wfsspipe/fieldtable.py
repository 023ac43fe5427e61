"""The fields table as the workflow sees it: loaded once, checked, indexed by field and exposure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .fields.sphere import RegionError, parse_polygon
from .layout import exposure_of
from .schemas import load_schema, validate_fields


def _schema_columns() -> tuple[list[str], dict[str, type]]:
    """Required columns and the columns read as text, both from the fields schema."""
    schema = load_schema("fields.schema.yaml")
    text = {
        name: str
        for name, spec in schema["properties"].items()
        if "string" in (spec["type"] if isinstance(spec["type"], list) else [spec["type"]])
    }
    return list(schema["required"]), text


class FieldTableError(ValueError):
    """The fields table or the requested fields cannot be used; the message says what to do."""


class FieldTableMissing(FieldTableError):
    """There is no fields table yet (a fresh checkout, before computeFields.py)."""


@dataclass
class FieldTable:
    rows: pd.DataFrame  # indexed by exposure root (obs_id)
    path: Path

    @property
    def fields(self) -> list[str]:
        return sorted(self.rows["field"].unique())

    def exposures(self, field: str, exp_type: str | None = None) -> list[str]:
        exposures = self._by_field.get(field, [])
        if exp_type:
            return [e for e in exposures if self._by_exposure[e]["exp_type"] == exp_type]
        return list(exposures)

    def row(self, field: str, exposure: str) -> dict:
        """The table row of ``exposure`` in ``field``, or a clear error."""
        if field not in self._field_set:
            raise FieldTableError(
                f"field {field!r} is not in {self.path} (known: {_sample(self.fields)}); "
                "rerun computeFields.py or fix the name"
            )
        row = self._by_exposure.get(exposure)
        if row is None:
            raise FieldTableError(f"exposure {exposure!r} is not in {self.path}") from None
        if row["field"] != field:
            raise FieldTableError(
                f"exposure {exposure} belongs to field {row['field']}, not {field}"
            )
        return row

    @classmethod
    def empty(cls, path: str | Path) -> FieldTable:
        """A table with no rows (the columns of the schema), standing in for a missing one."""
        required, _ = _schema_columns()
        return cls(pd.DataFrame(columns=required).set_index("obs_id", drop=False), Path(path))

    def __post_init__(self):
        # Plain dicts: input functions run once per job, thousands of times per start.
        self._field_set = set(self.rows["field"])
        self._by_exposure = self.rows.to_dict("index")
        self._by_field: dict[str, list[str]] = {}
        for exposure, field in zip(self.rows.index, self.rows["field"]):
            self._by_field.setdefault(field, []).append(exposure)


def uncal_size(row: dict) -> int | None:
    """The UNCAL's size in bytes in a row of the table (None: the table does not say)."""
    size = row["size"]
    return None if size is None or pd.isna(size) else int(size)


def _sample(names: list[str], most: int = 8) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def _region_problems(rows: pd.DataFrame, limit: int = 20) -> list[str]:
    """Footprints that do not parse (the schema only checks that they start with POLYGON)."""
    problems = []
    for number, (obs_id, region) in enumerate(zip(rows["obs_id"], rows["s_region"])):
        try:
            parse_polygon(region)
        except RegionError as error:
            problems.append(
                f"row {number + 2} ({obs_id}): s_region {region!r} does not parse: {error}"
            )
            if len(problems) >= limit:
                break
    return problems


def load_field_table(path: str | Path, selected: list[str] | None = None) -> FieldTable:
    """Read and check ``fields.csv``; keep only ``selected`` fields when given."""
    path = Path(path)
    if not path.is_file():
        raise FieldTableMissing(
            f"fields table {path} does not exist: run resources/scripts/computeFields.py "
            "(or `make demo` for the synthetic field), or set fields_csv in the config"
        )
    required, text_columns = _schema_columns()
    try:
        rows = pd.read_csv(
            path,
            dtype=text_columns,  # program numbers keep their zeros, URIs stay text
            keep_default_na=False,
            na_values={"size": [""], "t_obs_release": [""]},
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise FieldTableError(f"{path} is not a readable CSV table: {error}") from None
    missing = [c for c in required if c not in rows]
    if missing:
        raise FieldTableError(
            f"{path} lacks the column(s) {', '.join(missing)}; recompute it with computeFields.py"
        )
    if "size" in rows:
        rows["size"] = pd.to_numeric(rows["size"], errors="coerce").astype("Int64")
    problems = validate_fields(rows)
    if problems:
        raise FieldTableError(
            f"{path} breaks workflow/schemas/fields.schema.yaml: " + "; ".join(problems[:5])
        )
    problems = _region_problems(rows)
    if problems:
        raise FieldTableError(
            f"{path}: " + "; ".join(problems[:5]) + "; recompute the table with computeFields.py"
        )
    mismatched = rows[[exposure_of(f) != o for f, o in zip(rows["filename"], rows["obs_id"])]]
    if len(mismatched):
        raise FieldTableError(
            f"{path}: filename and obs_id disagree for {', '.join(mismatched['obs_id'][:5])}"
        )
    if selected:
        unknown = sorted(set(selected) - set(rows["field"]))
        if unknown:
            raise FieldTableError(
                f"config 'fields' names {', '.join(unknown)}, not in {path} "
                f"(known: {_sample(sorted(rows['field'].unique()))})"
            )
        rows = rows[rows["field"].isin(selected)]
    return FieldTable(rows.set_index("obs_id", drop=False), path)
