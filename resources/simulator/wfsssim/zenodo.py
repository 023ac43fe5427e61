"""A stand-in for Zenodo (and for grizli's configuration URLs), on 127.0.0.1, with faults.

The files grizli's NIRISS practice downloads into ``$GRIZLI`` come from three hosts; this serves
synthetic versions of each with the same names and layout, their URL paths unchanged, so that the
``grizli_config`` rule's real download code runs against it with only the host swapped
(:func:`local_sources`):

=====================================================  ===========================================
``/records/7628094/files/niriss_config_221215.tar.gz``  aXe confs ``GR150{R,C}.{filter}.221215.conf``
``/records/7628094/files/niriss_sens_221215.tar.gz``    the sensitivity tables the confs name
``/records/13741413/files/nis-{filter}-{elem}_skyflat.fits``  WFSS (gr150r/c) and imaging (clear)
                                                         sky flats
``/gbrammer/grizli-config/master/niriss.conf.220725.tar.gz``  grizli's older NIRISS confs
                                                         (``fetch_config_files(get_jwst=True)``)
``/~brammer/Grizli/Files/stars_{pickles,bpgs}.npy``      grizli's stellar templates
=====================================================  ===========================================

Zenodo's own shapes: ``?download=1`` is accepted, the old ``/record/<id>/files/<name>`` answers
301 with the ``/records/`` address (as zenodo.org does), and ``/api/records/<id>`` lists the files
(``key``, ``size``, ``checksum`` "md5:...", ``links.self``). The archives unpack to bare file
names (``tar xzf`` in ``CONF/`` gives ``CONF/GR150C.F115W.221215.conf``), as the real ones do.
Contents are :mod:`.grismconf`'s synthetic dispersion model, sensitivities and sky flats.

Faults are queued per file name through ``POST /faults`` (JSON ``{"<name>": ["500", "drop",
"slow", "corrupt"]}``; "corrupt" serves the file with one byte changed); ``GET /stats`` counts
requests per file.

    python resources/scripts/zenodoServer.py --root demo/zenodo --build --port-file port.txt
"""

from __future__ import annotations

import hashlib
import io
import logging
import tarfile
import time
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlparse, urlsplit, urlunsplit

import numpy as np
from astropy.io import fits

from wfsspipe.atomic import atomic_path
from wfsspipe.integrity import sha256_of

from . import grismconf
from .serving import FileFaults, StandInHandler, local_server

log = logging.getLogger(__name__)

CONF_RECORD = "7628094"  # NIRISS 221215 trace configurations and sensitivities
SKYFLAT_RECORD = "13741413"  # NIRISS WFSS and imaging sky flats
GRIZLI_CONFIG_PATH = "gbrammer/grizli-config/master"  # raw.githubusercontent.com/<this>/<name>
GRIZLI_FILES_PATH = "~brammer/Grizli/Files"  # www.stsci.edu/<this>/<name>
ELEMENTS = ("CLEAR", "GR150R", "GR150C")
STARS = ("stars_pickles.npy", "stars_bpgs.npy")
FAULTS = {"500", "503", "drop", "slow", "corrupt"}


def _tar_gz(path: Path, members: dict[str, bytes]) -> None:
    """A deterministic .tar.gz of ``members`` (bare names, mtime 0), written atomically."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(members.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    with atomic_path(path, suffix=".gz") as tmp:
        tmp.write_bytes(buffer.getvalue())


def _fits_bytes(hdul: fits.HDUList) -> bytes:
    buffer = io.BytesIO()
    hdul.writeto(buffer)
    return buffer.getvalue()


def _sensitivity_bytes(filter_name: str, beam: str) -> bytes:
    table = grismconf.sensitivity_table(filter_name, beam)
    return _fits_bytes(fits.HDUList([fits.PrimaryHDU(), fits.table_to_hdu(table)]))


def _skyflat_bytes(element: str, filter_name: str) -> bytes:
    primary = fits.PrimaryHDU()
    for key, value in (("INSTRUME", "NIRISS"), ("DETECTOR", "NIS"), ("FILTER", element),
                       ("PUPIL", filter_name)):  # fmt: skip
        primary.header[key] = value
    primary.header["COMMENT"] = "Synthetic NIRISS sky flat (wfsspipe), median 1"
    sci = fits.ImageHDU(grismconf.skyflat_image(element, filter_name), name="SCI")
    return _fits_bytes(fits.HDUList([primary, sci]))


def record_files(root: Path) -> dict[str, Path]:
    """{file name: path} of everything served from ``root`` (as :func:`write_records` lays it)."""
    return {p.name: p for p in Path(root).glob("**/files/*") if p.is_file()} | {
        p.name: p
        for folder in (GRIZLI_CONFIG_PATH, GRIZLI_FILES_PATH)
        for p in (Path(root) / folder).glob("*")
        if p.is_file()
    }


def write_records(root: Path, filters=grismconf.FILTERS) -> dict[str, Path]:
    """Write the synthetic files under ``root`` in their URL layout; returns :func:`record_files`.

    Every grism and element of ``filters`` (default: F115W, F150W, F200W, what the real records
    hold). Deterministic: the same call gives byte-identical files."""
    root = Path(root)
    filters = [f.upper() for f in filters]
    confs, sens, old_confs = {}, {}, {}
    for filter_name in filters:
        for grism in grismconf.GRISMS:
            text = grismconf.conf_text(grism, filter_name)
            confs[grismconf.conf_filename(grism, filter_name)] = text.encode()
            old = grismconf.conf_filename(grism, filter_name).replace(
                grismconf.CONF_VERSION, "220725"
            )
            old_confs[old] = text.encode()
            for beam in ("A", "B", "C"):
                name = grismconf.sensitivity_filename(grism, filter_name, beam)
                sens[name] = _sensitivity_bytes(filter_name, beam)
    conf_files = root / "records" / CONF_RECORD / "files"
    _tar_gz(conf_files / "niriss_config_221215.tar.gz", confs)
    _tar_gz(conf_files / "niriss_sens_221215.tar.gz", sens)
    _tar_gz(root / GRIZLI_CONFIG_PATH / "niriss.conf.220725.tar.gz", old_confs)
    for filter_name in filters:
        for element in ELEMENTS:
            name = grismconf.skyflat_filename(element, filter_name)
            with atomic_path(root / "records" / SKYFLAT_RECORD / "files" / name) as tmp:
                tmp.write_bytes(_skyflat_bytes(element, filter_name))
    # Stellar templates: grizli reads them as a list of its SpectrumTemplate objects; a small
    # array of (wavelength, flux) pairs in the same .npy container is all a download needs.
    for index, name in enumerate(STARS):
        wave = np.linspace(5000.0, 30000.0, 200)
        stars = np.stack([np.stack([wave, (wave / 1e4) ** -(2 + i + index)]) for i in range(3)])
        with atomic_path(root / GRIZLI_FILES_PATH / name) as tmp:
            np.save(tmp, stars)
    return record_files(root)


def local_sources(sources: list[dict], base_url: str, root: Path) -> list[dict]:
    """The config's ``grizli_config.sources`` pointed at the server at ``base_url`` (the URL
    paths kept, the host swapped) and pinned to the served files' SHA-256."""
    files = record_files(root)
    local = []
    for source in sources:
        url = urlsplit(source["url"])
        base = urlsplit(base_url)
        entry = dict(source, url=urlunsplit((base.scheme, base.netloc, url.path, url.query, "")))
        if source["name"] in files:
            entry["sha256"] = sha256_of(files[source["name"]])
        local.append(entry)
    return local


class ZenodoState(FileFaults):
    def __init__(self, root: Path, slow_seconds: float):
        super().__init__()
        self.root = Path(root)
        self.slow_seconds = slow_seconds


class ZenodoHandler(StandInHandler):
    FAULTS = frozenset(FAULTS)

    server_version = "wfsspipe-zenodo/1"
    state: ZenodoState  # set on the subclass made by make_server

    def log_message(self, fmt, *args):
        log.debug("%s " + fmt, self.address_string(), *args)

    def do_GET(self):
        path = urlparse(self.path).path
        parts = path.strip("/").split("/")
        if path == "/stats":
            with self.state.lock:
                return self._json({"requests": dict(self.state.requests)})
        if len(parts) == 4 and parts[0] == "record" and parts[2] == "files":
            self.send_response(HTTPStatus.MOVED_PERMANENTLY)
            self.send_header("Location", "/records/" + "/".join(parts[1:]))
            self.send_header("Content-Length", "0")
            return self.end_headers()
        if len(parts) == 3 and parts[:2] == ["api", "records"]:
            return self._listing(parts[2])
        if ".." in parts or not parts or not parts[-1]:
            return self.send_error(HTTPStatus.NOT_FOUND, "no such file")
        file = self.state.root.joinpath(*parts)
        if not file.is_file():
            return self.send_error(HTTPStatus.NOT_FOUND, "no such file")
        self._serve(file, self.state.next_fault(file.name))

    def do_POST(self):
        if urlparse(self.path).path != "/faults":
            return self.send_error(HTTPStatus.NOT_FOUND, "unknown endpoint")
        return self._queue_faults()

    def _listing(self, record: str) -> None:
        folder = self.state.root / "records" / record / "files"
        if not folder.is_dir():
            return self.send_error(HTTPStatus.NOT_FOUND, "no such record")
        host = f"http://{self.headers.get('Host', '127.0.0.1')}"
        files = [
            {
                "key": p.name,
                "size": p.stat().st_size,
                "checksum": "md5:" + hashlib.md5(p.read_bytes()).hexdigest(),
                "links": {"self": f"{host}/api/records/{record}/files/{p.name}/content"},
            }
            for p in sorted(folder.iterdir())
        ]
        return self._json({"id": int(record), "files": files})

    def _serve(self, path: Path, fault: str | None) -> None:
        if fault in ("500", "503"):
            return self.send_error(int(fault), "injected fault")
        data = path.read_bytes()
        if fault == "corrupt":
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        send = len(data) // 3 if fault == "drop" else len(data)
        for start in range(0, send, 1 << 20):
            if fault == "slow":
                time.sleep(self.state.slow_seconds)
            self.wfile.write(data[start : min(send, start + (1 << 20))])
        if fault == "drop":
            self.close_connection = True  # the client sees a body shorter than announced


def make_server(root: Path, port: int = 0, slow_seconds: float = 5.0):
    """A ThreadingHTTPServer on 127.0.0.1:``port`` (0: any free port) serving ``root``."""
    return local_server(ZenodoHandler, port, state=ZenodoState(root, slow_seconds))


def base_url(server) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"
