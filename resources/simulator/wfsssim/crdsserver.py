"""A stand-in for a CRDS server, on 127.0.0.1, serving a CRDS cache folder (the synthetic context).

It speaks the protocol of the real ``crds`` client (crds 14.0.3, ``crds.client.api`` and
``crds.client.proxy``), so the client runs against it unchanged, in ``CRDS_MODE=remote``:

* JSON-RPC 1.0 over ``POST <server>/json/<method>/<id>/`` with ``{"method", "params", "id"}``;
  the answer is ``{"result", "error", "id"}``, an error being ``{"message": ...}``. Methods:
  ``get_server_info`` (observatory, contexts, bad files, download URLs, and ``download_metadata``:
  the size and sha1 of every file, gzip+base64 encoded as ``proxy.crds_encode`` does),
  ``get_best_references`` (computed with crds' own rules engine on the served mappings, answers
  as a real server gives them: a file name, ``NOT FOUND n/a`` or ``NOT FOUND <why>``),
  ``get_best_references_by_header_map``, ``get_file_info``, ``get_file_info_map``,
  ``get_mapping_names``, ``get_reference_names``, ``get_required_parkeys``,
  ``get_default_context``, ``get_build_context``, ``get_context_by_date``, ``list_mappings``,
  ``list_references``. ``get_best_references_by_ids`` needs the archive's dataset database, which
  this server does not have: it answers with an error naming the ids.
* File downloads: ``GET /unchecked_get/references/jwst/<name>`` and
  ``GET /unchecked_get/mappings/jwst/<name>`` (the URLs ``get_server_info`` announces).

Faults, for tests: ``POST /faults`` with ``{"missing": [names], "corrupt": [names]}`` (replacing
the current sets): a *missing* file stays listed in the catalogue and the rules but its download
answers 404 (a server that lost it); a *corrupt* one is served with one byte changed (same size).
``GET /stats`` reports JSON-RPC calls per method and downloads per file.

    python resources/scripts/crdsServer.py --root demo/synthetic/crds_cache --port-file port.txt
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import hashlib
import json
import logging
import os
import threading
from collections import defaultdict
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

from .crdscache import OBSERVATORY, SERVERLESS_URL
from .serving import StandInHandler, local_server

log = logging.getLogger(__name__)

JSON_PREFIX = "/json/"
FILE_PREFIXES = {
    "references": f"/unchecked_get/references/{OBSERVATORY}/",
    "mappings": f"/unchecked_get/mappings/{OBSERVATORY}/",
}
FAULT_KINDS = ("missing", "corrupt")
MAPPING_SUFFIXES = (".pmap", ".imap", ".rmap")


def _sha1(path: Path) -> str:
    """sha1 of a file, as ``crds.core.utils.checksum`` computes the catalogue's ``sha1sum``."""
    digest = hashlib.sha1()  # the checksum CRDS catalogues list
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class CrdsState:
    """The served files, their catalogue entries, the rules, the faults and the counters."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.files: dict[str, Path] = {}
        for kind in ("mappings", "references"):
            for path in sorted((self.root / kind / OBSERVATORY).rglob("*")):
                if path.is_file() and not path.name.startswith("."):
                    self.files[path.name] = path
        self.catalog = {
            name: {"size": str(path.stat().st_size), "sha1sum": _sha1(path)}
            for name, path in self.files.items()
        }
        pmaps = sorted(n for n in self.files if n.endswith(".pmap"))
        if not pmaps:
            raise ValueError(
                f"{self.root} holds no mappings/{OBSERVATORY}/*.pmap: not a CRDS cache"
            )
        self.context = pmaps[-1]
        self.faults: dict[str, set[str]] = {kind: set() for kind in FAULT_KINDS}
        self.rpc_calls: dict[str, int] = defaultdict(int)
        self.downloads: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()
        self.rules_lock = threading.Lock()  # crds loads and caches mappings on first use

    # The rules engine: crds itself, reading the served folder (local mode, no server of its own).
    def mapping(self, context: str):
        from crds.core import heavy_client

        if context not in self.files or not context.endswith(MAPPING_SUFFIXES):
            raise ValueError(f"unknown context {context!r}; this server has {self.context!r}")
        with self.rules_lock:
            return heavy_client.get_symbolic_mapping(context)

    def best_references(self, context: str, header: dict, reftypes) -> dict[str, str]:
        from crds.core import heavy_client

        self.mapping(context)
        with self.rules_lock:
            return heavy_client.hv_best_references(context, header, reftypes)

    def server_info(self, base: str) -> dict:
        from crds.client import proxy

        def urls(kind):
            url = base + FILE_PREFIXES[kind]
            return {"checked": {OBSERVATORY: url}, "unchecked": {OBSERVATORY: url}}

        return {
            "observatory": OBSERVATORY,
            "operational_context": self.context,
            "latest_context": self.context,
            "edit_context": self.context,
            "versions_context": self.context,
            "bad_files": "",
            "bad_files_list": [],
            "force_remote_mode": False,
            "max_headers_per_rpc": 500,
            "mappings": sorted(n for n in self.files if n.endswith(MAPPING_SUFFIXES)),
            "reference_url": urls("references"),
            "mapping_url": urls("mappings"),
            "crds_version": {"str": "wfsspipe synthetic CRDS server"},
            "download_metadata": proxy.crds_encode(self.catalog),
            "last_synced": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        }

    def file_info(self, name: str) -> dict:
        if name not in self.catalog:
            raise ValueError(f"file {name!r} is not known to this CRDS server")
        kind = "mapping" if name.endswith(MAPPING_SUFFIXES) else "reference"
        return {
            "name": name,
            "type": kind,
            "state": "archived",
            "rejected": "false",
            "blacklisted": "false",
            "observatory": OBSERVATORY,
            **self.catalog[name],
        }


class CrdsHandler(StandInHandler):
    server_version = "wfsspipe-crds/1"
    state: CrdsState  # set on the subclass made by make_server
    base: str = ""

    def log_message(self, fmt, *args):
        log.debug("%s " + fmt, self.address_string(), *args)

    # --- JSON-RPC ----------------------------------------------------------------------------

    def do_POST(self):
        path = urlparse(self.path).path
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length) if length else b""
        if path == "/faults":
            return self._set_faults(body)
        if not path.startswith(JSON_PREFIX):
            return self.send_error(HTTPStatus.NOT_FOUND, "unknown endpoint")
        try:
            request = json.loads(body)
            method, params, request_id = request["method"], request["params"], request["id"]
        except (ValueError, KeyError, TypeError):
            return self.send_error(HTTPStatus.BAD_REQUEST, "not a JSON-RPC request")
        with self.state.lock:
            self.state.rpc_calls[method] += 1
        try:
            handler = getattr(self, f"rpc_{method}")
        except AttributeError:
            return self._rpc_answer(request_id, error=f"unknown JSON-RPC method {method!r}")
        try:
            result = handler(**params) if isinstance(params, dict) else handler(*params)
        except Exception as error:  # a real server answers every failure as a JSON-RPC error
            log.info("%s%r failed: %s", method, params, error)
            return self._rpc_answer(request_id, error=f"{type(error).__name__}: {error}")
        return self._rpc_answer(request_id, result=result)

    def _rpc_answer(self, request_id, result=None, error=None) -> None:
        answer = {"id": request_id, "result": result, "error": None}
        if error is not None:
            answer.update(result=None, error={"name": "CrdsError", "message": error})
        self._json(answer)

    def rpc_get_server_info(self):
        return self.state.server_info(self.base)

    def rpc_get_best_references(self, context, header, reftypes=None):
        return self.state.best_references(context, header, reftypes)

    def rpc_get_best_references_by_header_map(self, context, header_map, reftypes=None):
        return {
            dataset: self.state.best_references(context, header, reftypes)
            for dataset, header in header_map.items()
        }

    def rpc_get_best_references_by_ids(self, context, dataset_ids, reftypes=None, *_):
        raise ValueError(
            f"this CRDS server has no archive database; dataset ids {dataset_ids} are unknown. "
            "Ask get_best_references with the dataset's header instead."
        )

    def rpc_get_file_info(self, context, filename):
        self.state.mapping(context)
        return self.state.file_info(filename)

    def rpc_get_file_info_map(self, observatory, files=None, fields=None):
        names = sorted(self.state.catalog) if files is None else files
        answer = {}
        for name in names:
            try:
                info = self.state.file_info(name)
            except ValueError:
                answer[name] = "NOT FOUND"
                continue
            answer[name] = {k: v for k, v in info.items() if fields is None or k in fields}
        return answer

    def rpc_get_mapping_names(self, context):
        return sorted(self.state.mapping(context).mapping_names())

    def rpc_get_reference_names(self, context):
        return sorted(self.state.mapping(context).reference_names())

    def rpc_get_required_parkeys(self, context):
        return self.state.mapping(context).get_required_parkeys()

    def rpc_get_default_context(self, observatory=None, state=None):
        return self.state.context

    def rpc_get_build_context(self, observatory=None, calver=None):
        return self.state.context

    def rpc_get_context_by_date(self, date, observatory=None):
        return self.state.context

    def rpc_list_mappings(self, observatory=None, glob_pattern="*"):
        names = (n for n in self.state.files if n.endswith(MAPPING_SUFFIXES))
        return sorted(n for n in names if fnmatch.fnmatch(n, glob_pattern))

    def rpc_list_references(self, observatory=None, glob_pattern="*"):
        names = (n for n in self.state.files if not n.endswith(MAPPING_SUFFIXES))
        return sorted(n for n in names if fnmatch.fnmatch(n, glob_pattern))

    # --- files, faults, stats ---------------------------------------------------------------

    def do_GET(self):
        path = urlparse(self.path).path
        if path == "/stats":
            with self.state.lock:
                return self._json(
                    {
                        "rpc": dict(self.state.rpc_calls),
                        "downloads": dict(self.state.downloads),
                        "faults": {k: sorted(v) for k, v in self.state.faults.items()},
                    }
                )
        for kind, prefix in FILE_PREFIXES.items():
            if path.startswith(prefix):
                name = unquote(path[len(prefix) :])
                return self._serve_file(kind, name)
        return self.send_error(HTTPStatus.NOT_FOUND, "unknown endpoint")

    def _serve_file(self, kind: str, name: str) -> None:
        file = self.state.files.get(name)
        is_mapping = name.endswith(MAPPING_SUFFIXES)
        with self.state.lock:
            self.state.downloads[name] += 1
            missing = name in self.state.faults["missing"]
            corrupt = name in self.state.faults["corrupt"]
        if file is None or missing or is_mapping != (kind == "mappings"):
            return self.send_error(HTTPStatus.NOT_FOUND, f"no such {kind[:-1]} {name}")
        data = file.read_bytes()
        if corrupt:
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _set_faults(self, body: bytes) -> None:
        try:
            wanted = json.loads(body or b"{}")
            assert isinstance(wanted, dict) and set(wanted) <= set(FAULT_KINDS)
            assert all(isinstance(v, list) for v in wanted.values())
        except (ValueError, AssertionError):
            return self.send_error(
                HTTPStatus.BAD_REQUEST, f"faults must be {{{'|'.join(FAULT_KINDS)}: [names]}}"
            )
        with self.state.lock:
            for kind in FAULT_KINDS:
                self.state.faults[kind] = set(wanted.get(kind, []))
        return self._json({k: sorted(v) for k, v in self.state.faults.items()})


def make_server(root: str | Path, port: int = 0) -> ThreadingHTTPServer:
    """A ThreadingHTTPServer on 127.0.0.1:``port`` (0: any free port) serving the cache ``root``.

    Call it before ``crds`` is imported in this process: it points crds (its rules engine) at
    ``root`` in local mode, without a server of its own.
    """
    root = Path(root).resolve()
    os.environ.update(
        CRDS_PATH=str(root),
        CRDS_MODE="local",
        CRDS_SERVER_URL=SERVERLESS_URL,
        CRDS_READONLY_CACHE="1",
    )
    os.environ.pop("CRDS_CONTEXT", None)
    server = local_server(CrdsHandler, port, state=CrdsState(root))
    server.RequestHandlerClass.base = base_url(server)  # known once the port is bound
    return server


def base_url(server) -> str:
    """What ``CRDS_SERVER_URL`` must be for this server ("localhost": crds warns on other
    non-https URLs)."""
    return f"http://localhost:{server.server_address[1]}"
