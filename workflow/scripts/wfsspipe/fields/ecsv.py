"""A small reader for the plain ECSV files observation tables come as, without astropy.table.

ECSV (https://github.com/astropy/astropy-APEs/blob/main/APE6.rst) is a YAML header in ``# ``
comment lines, then a line of column names and space-separated values with ``"`` quoting. An
observation table from ``Observations.query_criteria`` has only scalar string, float, integer and
boolean columns; this reads exactly those, the way ``astropy.table.Table.read`` followed by
:func:`wfsspipe.fields.table.frame_of_table` would: an empty field is a masked value (NaN in a
float column, ``""`` in a string column), leading and trailing blanks of a value are dropped.

Anything else (another delimiter, multidimensional or object columns, a column type this does not
know, a missing value in an integer or boolean column, a malformed line) makes
:func:`read_ecsv_frame` return None, and the caller reads the file with astropy, which handles it
or says what is wrong. It exists for start-up time: importing astropy.table costs more than
reading a 5,000-row table this way.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

FLOATS = {"float64": np.float64}
INTEGERS = {"int64": np.int64, "int32": np.int32, "int16": np.int16, "uint8": np.uint8}


def read_ecsv_frame(path: Path):
    """A pandas DataFrame of the ECSV file at ``path``, or None if it needs astropy's reader."""
    import pandas as pd
    import yaml

    header, body = [], []
    with open(path, encoding="utf-8", newline="") as stream:
        for line in stream:
            if line.startswith("#"):
                if body:
                    continue  # a comment among the data lines: astropy skips those too
                header.append(line[2:] if line.startswith("# ") else line[1:])
            elif line.strip():
                body.append(line)
    if not header or not header[0].startswith("%ECSV"):
        return None
    try:
        meta = yaml.load("".join(header[1:]), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    if not isinstance(meta, dict) or meta.get("delimiter", " ") != " ":
        return None
    columns = meta.get("datatype")
    if not isinstance(columns, list) or not columns or not body:
        return None
    names, kinds = [], []
    for column in columns:
        if not isinstance(column, dict) or set(column) - {
            "name",
            "datatype",
            "unit",
            "description",
            "format",
            "meta",
        }:
            return None  # subtype (arrays, objects) or something newer than this reader
        kind = column.get("datatype")
        if kind not in FLOATS and kind not in INTEGERS and kind not in ("string", "bool"):
            return None
        names.append(str(column["name"]))
        kinds.append(kind)
    rows = list(csv.reader(body, delimiter=" ", quotechar='"', skipinitialspace=True))
    if rows[0] != names or len(set(names)) != len(names):
        return None
    data = rows[1:]
    if any(len(row) != len(names) for row in data):
        return None
    values = list(zip(*data)) if data else [()] * len(names)
    frame = {}
    for name, kind, text in zip(names, kinds, values):
        text = [value.strip() for value in text]
        if kind == "string":
            frame[name] = pd.Series(text, dtype=object)
        elif kind in FLOATS:
            try:
                numbers = [float(value) if value else math.nan for value in text]
            except ValueError:
                return None
            frame[name] = pd.Series(np.array(numbers, dtype=FLOATS[kind]))
        elif kind in INTEGERS:
            try:
                frame[name] = pd.Series(
                    np.array([int(value) for value in text], dtype=INTEGERS[kind])
                )
            except (ValueError, OverflowError):
                return None  # includes a missing value: astropy's masked integers decide
        else:
            if not set(text) <= {"True", "False"}:
                return None
            frame[name] = pd.Series(np.array([value == "True" for value in text], dtype=bool))
    return pd.DataFrame(frame)
