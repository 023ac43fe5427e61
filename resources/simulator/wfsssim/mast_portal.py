"""A stand-in for the MAST Portal API (``/api/v0/invoke``) on 127.0.0.1, as astroquery calls it.

astroquery's ``Observations`` talks to three endpoints, all served here from ECSV tables of
observations (``Observations.query_criteria`` rows):

- ``POST /portal/Mashup/Mashup.asmx/columnsconfig`` (form ``colConfigId=<service>``): the column
  configuration astroquery builds its filters from (type, separator per column);
- ``POST /api/v0/invoke`` (form ``request=<JSON>``): ``Mast.Caom.Filtered`` (filters as astroquery
  builds them: discrete values, ``{min, max}`` ranges, ``freeText`` wildcards; ``COUNT_BIG(*)``
  for the counts) and ``Mast.Caom.Products`` (``obsid`` = comma-separated list), with
  ``pagesize``/``page`` paging answered in MAST's ``paging`` block;
- ``GET /whoami``: the session astroquery's ``login`` checks (the ``mast_token`` cookie).

Beside the table's own rows it serves what real JWST programs hold and a pipeline must not take:
level-3 source observations (``jw01571-o001_s00001_niriss_...``), exclusive-access exposures and one
malformed exposure (an ``s_region`` that is no polygon). ``GET /stats`` counts requests per
service and the obsids of every product request; ``POST /faults`` (JSON ``{"status": 504,
"after": N}``) makes the invoke request N+1 from now fail once with that status.

    python resources/scripts/mastServer.py --table observations.ecsv --port 0 --port-file port.txt
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import math
import threading
from collections import defaultdict
from http import HTTPStatus
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
from astropy.table import Table, vstack

from .serving import StandInHandler, local_server

log = logging.getLogger(__name__)

INVOKE_PATH = "/api/v0/invoke"
COLUMNS_CONFIG_PATH = "/portal/Mashup/Mashup.asmx/columnsconfig"
WHOAMI_PATH = "/whoami"
OBSERVATION_SERVICES = {"Mast.Caom.Filtered", "Mast.Caom.Cone"}
PRODUCTS_SERVICE = "Mast.Caom.Products"
# Columns whose values MAST splits on ";" when filtering (as its column configuration says).
SPLIT_COLUMNS = {
    "obs_collection",
    "filters",
    "project",
    "wavelength_region",
    "target_classification",
}
# Product-list columns (Mast.Caom.Products) in MAST's order, with their Portal types.
PRODUCT_FIELDS = [
    ("obsID", "string"),
    ("obs_collection", "string"),
    ("dataproduct_type", "string"),
    ("obs_id", "string"),
    ("description", "string"),
    ("type", "string"),
    ("dataURI", "string"),
    ("productType", "string"),
    ("productGroupDescription", "string"),
    ("productSubGroupDescription", "string"),
    ("productDocumentationURL", "string"),
    ("project", "string"),
    ("prvversion", "string"),
    ("proposal_id", "string"),
    ("productFilename", "string"),
    ("size", "int"),
    ("parent_obsid", "string"),
    ("dataRights", "string"),
    ("calib_level", "int"),
]
# Columns of a saved observation table that belong to the product list, not the observation.
PRODUCT_ONLY = {"dataURI", "size", "productFilename"}
MALFORMED_REGION = "POLYGON ICRS 150.1 2.2 150.2"  # three numbers: no polygon


def portal_type(column) -> str:
    kind = column.dtype.kind
    return {"f": "float", "i": "int", "u": "int", "b": "boolean"}.get(kind, "string")


def _json_value(value):
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if value is np.ma.masked:
        return None
    return str(value)


def build_observations(paths: list[Path], extras: bool = True) -> Table:
    """The rows served: every table's rows (an ``obsid`` added where missing), then the extras.

    Deterministic, so a test can rebuild the server's table and compare with ``--from-table``.
    """
    tables = []
    for path in paths:
        table = Table.read(path, format="ascii.ecsv")
        table.meta = {}
        if "obsid" not in table.colnames:
            table["obsid"] = [str(91000000 + 100000 * len(tables) + i) for i in range(len(table))]
        for name, default in (
            ("calib_level", 2),
            ("dataRights", "PUBLIC"),
            ("obs_collection", "JWST"),
        ):
            if name not in table.colnames:
                table[name] = [default] * len(table)
        if "size" not in table.colnames:
            table["size"] = [40_000_000 + 2880 * (i % 997) for i in range(len(table))]
        table["obsid"] = table["obsid"].astype(str)
        tables.append(table)
    observations = vstack(tables, metadata_conflicts="silent")
    if "dataURI" in observations.colnames:
        observations.remove_column("dataURI")
    if extras:
        observations = vstack([observations, extra_rows(observations)], metadata_conflicts="silent")
    return observations


def extra_rows(observations: Table) -> Table:
    """Per program: three level-3 source observations and two exclusive-access exposures; one
    malformed exposure for the first program. Copies of real rows, so every column is filled."""
    programs = observations["proposal_id"].astype(str)
    picks, changes = [], []
    for serial, program in enumerate(sorted(set(programs))):
        members = np.flatnonzero(programs == program)
        number = int(program)
        for source in range(1, 4):
            obs_id = f"jw{number:05d}-o001_s{source:05d}_niriss_f150w-gr150c"
            picks.append(members[0])
            changes.append({"obs_id": obs_id, "calib_level": 3})
        for copy in range(2):
            picks.append(members[copy % len(members)])
            changes.append(
                {
                    "obs_id": f"jw{number:05d}990001_02101_{copy + 1:05d}_nis",
                    "dataRights": "EXCLUSIVE_ACCESS",
                }
            )
        if serial == 0:
            picks.append(members[0])
            changes.append(
                {"obs_id": f"jw{number:05d}991001_02101_00001_nis", "s_region": MALFORMED_REGION}
            )
    extras = observations[picks]
    for name in ("obs_id", "dataRights", "s_region"):  # room for the longer values
        extras[name] = extras[name].astype(str).astype(object)
    for index, change in enumerate(changes):
        for name, value in change.items():
            extras[name][index] = value
    for name in ("obs_id", "dataRights", "s_region"):
        extras[name] = extras[name].astype(str)
    extras["obsid"] = [str(99000000 + i) for i in range(len(extras))]
    return extras


def malformed_obs_ids(observations: Table) -> list[str]:
    return [
        str(o)
        for o, r in zip(observations["obs_id"], observations["s_region"])
        if r == MALFORMED_REGION
    ]


class PortalState:
    def __init__(self, observations: Table, token: str | None):
        self.columns = [c for c in observations.colnames if c not in PRODUCT_ONLY]
        self.fields = [{"name": c, "type": portal_type(observations[c])} for c in self.columns]
        self.rows = [
            {c: _json_value(observations[c][i]) for c in observations.colnames}
            for i in range(len(observations))
        ]
        self.by_obsid = {row["obsid"]: row for row in self.rows}
        self.token_digest = hashlib.sha256(token.encode()).hexdigest() if token else None
        self.requests: dict[str, int] = defaultdict(int)
        self.product_obsids: list[int] = []
        self.authorized = 0
        self.faults: list[dict] = []  # {"status": 504, "after": n}
        self.faults_served: list[int] = []
        self.lock = threading.Lock()

    def next_fault(self) -> int | None:
        with self.lock:
            for fault in self.faults:
                if fault["after"] <= 0:
                    self.faults.remove(fault)
                    self.faults_served.append(fault["status"])
                    return fault["status"]
            for fault in self.faults:
                fault["after"] -= 1
            return None

    def column_config(self, service: str) -> dict:
        config = {"_selected_": {"text": "selected", "type": "boolean", "hidden": True}}
        if service == PRODUCTS_SERVICE:
            fields = PRODUCT_FIELDS
        elif service in OBSERVATION_SERVICES or service.startswith("Mast.Caom.Filtered"):
            fields = [(f["name"], f["type"]) for f in self.fields]
        else:
            return {}
        datatypes = {"float": "double", "int": "int", "boolean": "boolean", "string": "char"}
        for name, kind in fields:
            entry = {"text": name, "vot.datatype": datatypes[kind], "vot.ID": name}
            if name in ("obsid", "objID"):
                entry["vot.datatype"] = "long"
            if name in SPLIT_COLUMNS:
                entry["separator"] = ";"
            config[name] = entry
        return config

    def select(self, filters: list[dict]) -> list[dict]:
        rows = self.rows
        for entry in filters:
            name = entry.get("paramName")
            if name not in self.columns:
                raise ValueError(f"unknown filter column {name!r}")
            rows = [row for row in rows if _matches(row.get(name), entry, name in SPLIT_COLUMNS)]
        return rows

    def products(self, obsids: list[str]) -> list[dict]:
        products = []
        for obsid in obsids:
            row = self.by_obsid.get(obsid)
            if row is None:
                continue
            products.extend(_products_of(row))
        return products


def _matches(value, entry: dict, split: bool) -> bool:
    wanted = entry.get("values", [])
    if wanted and isinstance(wanted[0], dict):  # continuous: [{"min": a, "max": b}]
        if value is None:
            return False
        return any(float(w["min"]) <= float(value) <= float(w["max"]) for w in wanted)
    text = "" if value is None else str(value)
    parts = text.split(";") if split else [text]
    if any(part in [str(w) for w in wanted] for part in parts):
        return True
    pattern = entry.get("freeText")
    return bool(pattern) and fnmatch.fnmatchcase(text, pattern.replace("%", "*"))


def _products_of(row: dict) -> list[dict]:
    obs_id = row["obs_id"]
    level3 = int(row.get("calib_level") or 2) >= 3
    kinds = (
        [("x1d", "X1D", 3)]
        if level3
        else [("uncal", "UNCAL", 1), ("rate", "RATE", 2), ("cal", "CAL", 2)]
    )
    size = int(row.get("size") or 40_000_000)
    products = []
    for suffix, group, level in kinds:
        products.append(
            {
                "obsID": row["obsid"],
                "obs_collection": "JWST",
                "dataproduct_type": row.get("dataproduct_type") or "image",
                "obs_id": obs_id,
                "description": f"exposure/target (L{level}): {group.lower()}",
                "type": "S",
                "dataURI": f"mast:JWST/product/{obs_id}_{suffix}.fits",
                "productType": "SCIENCE",
                "productGroupDescription": "Minimum Recommended Products" if level == 2 else None,
                "productSubGroupDescription": group,
                "productDocumentationURL": None,
                "project": "CALJWST",
                "prvversion": "1.19.2",
                "proposal_id": row.get("proposal_id"),
                "productFilename": f"{obs_id}_{suffix}.fits",
                "size": size if suffix == "uncal" else size // 2,
                "parent_obsid": row["obsid"],
                "dataRights": row.get("dataRights") or "PUBLIC",
                "calib_level": level,
                "_selected_": None,
            }
        )
    return products


def _paged(rows: list[dict], fields: list[dict], request: dict) -> dict:
    pagesize = int(request.get("pagesize") or 50000)
    page = max(int(request.get("page") or 1), 1)
    pages = max(math.ceil(len(rows) / pagesize), 1)
    data = rows[(page - 1) * pagesize : page * pagesize]
    return {
        "status": "COMPLETE",
        "msg": "",
        "fields": fields + [{"name": "_selected_", "type": "boolean"}],
        "data": data,
        "paging": {
            "page": page,
            "pageSize": pagesize,
            "pagesFiltered": pages,
            "rows": len(data),
            "rowsFiltered": len(rows),
            "rowsTotal": len(rows),
        },
    }


class PortalHandler(StandInHandler):
    server_version = "wfsspipe-mast-portal/1"
    state: PortalState  # set on the subclass made by make_server

    def log_message(self, fmt, *args):  # quiet by default; never logs cookies
        log.debug("%s " + fmt, self.address_string(), *args)

    def _count(self, key: str) -> None:
        with self.state.lock:
            self.state.requests[key] += 1

    def _authorized(self) -> bool:
        cookie = SimpleCookie(self.headers.get("Cookie", ""))
        token = cookie["mast_token"].value if "mast_token" in cookie else ""
        digest = hashlib.sha256(token.encode()).hexdigest() if token else None
        return bool(self.state.token_digest) and digest == self.state.token_digest

    def do_GET(self):
        path = urlparse(self.path).path
        if path == "/stats":
            with self.state.lock:
                body = {
                    "requests": dict(self.state.requests),
                    "product_obsids": list(self.state.product_obsids),
                    "authorized": self.state.authorized,
                    "faults_served": list(self.state.faults_served),
                    "pending_faults": len(self.state.faults),
                }
            return self._json(body)
        if path == WHOAMI_PATH:
            self._count("whoami")
            known = self._authorized()
            return self._json(
                {
                    "anon": not known,
                    "ezid": "synthetic" if known else None,
                    "scopes": ["mast:exclusive_access"] if known else [],
                    "attrib": {"display_name": "Synthetic User"} if known else {},
                }
            )
        return self.send_error(HTTPStatus.NOT_FOUND, "unknown endpoint")

    def do_POST(self):
        path = urlparse(self.path).path
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length).decode("utf-8", "replace")
        if path == "/faults":
            return self._queue_fault(body)
        form = parse_qs(body, keep_blank_values=True)
        if path == COLUMNS_CONFIG_PATH:
            service = form.get("colConfigId", [""])[0]
            self._count(f"columnsconfig:{service}")
            return self._json(self.state.column_config(service))
        if path != INVOKE_PATH:
            return self.send_error(HTTPStatus.NOT_FOUND, "unknown endpoint")
        try:
            request = json.loads(form.get("request", [""])[0])
            service = request["service"]
        except (ValueError, KeyError, TypeError):
            return self._json({"status": "ERROR", "msg": "request must be a Mashup JSON object"})
        self._count(f"invoke:{service}")
        fault = self.state.next_fault()
        if fault:
            return self.send_error(fault, "injected fault")
        if self._authorized():
            with self.state.lock:
                self.state.authorized += 1
        params = request.get("params") or {}
        try:
            if service == PRODUCTS_SERVICE:
                obsids = [o for o in str(params.get("obsid", "")).split(",") if o]
                with self.state.lock:
                    self.state.product_obsids.append(len(obsids))
                fields = [{"name": n, "type": t} for n, t in PRODUCT_FIELDS]
                return self._json(_paged(self.state.products(obsids), fields, request))
            if service in OBSERVATION_SERVICES:
                rows = self.state.select(params.get("filters") or [])
                if str(params.get("columns", "*")).upper().startswith("COUNT_BIG"):
                    return self._json(
                        _paged([{"Column1": len(rows)}], [{"name": "Column1", "type": "int"}], {})
                    )
                return self._json(_paged(rows, self.state.fields, request))
        except (ValueError, TypeError) as error:
            return self._json({"status": "ERROR", "msg": str(error)})
        return self._json({"status": "ERROR", "msg": f"unknown service {service!r}"})

    def _queue_fault(self, body: str):
        try:
            fault = json.loads(body or "{}")
            fault = {"status": int(fault.get("status", 504)), "after": int(fault.get("after", 0))}
            assert 400 <= fault["status"] < 600 and fault["after"] >= 0
        except (ValueError, AssertionError, AttributeError):
            return self.send_error(HTTPStatus.BAD_REQUEST, 'faults are {"status": 504, "after": N}')
        with self.state.lock:
            self.state.faults.append(fault)
        return self._json({"queued": len(self.state.faults)})


def make_server(observations: Table, port: int = 0, token: str | None = None):
    """A ThreadingHTTPServer on 127.0.0.1:``port`` (0: any free port) serving ``observations``."""
    return local_server(PortalHandler, port, state=PortalState(observations, token))


def server_url(server) -> str:
    """What astroquery's ``[mast] server`` setting must read."""
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


def astroquery_config(url: str, pagesize: int = 50000, timeout: int = 600) -> str:
    """The text of an ``astroquery.cfg`` that points astroquery.mast at ``url``."""
    return f"[mast]\nserver = {url}\npagesize = {pagesize}\ntimeout = {timeout}\n"
