"""Fetch one product from MAST's download service, verified and written atomically.

``{archive_url}?uri={dataURI}`` is fetched into ``<output>.part`` beside the output, resumed with
an HTTP Range request when an earlier attempt left part of it, checked (the server's
Content-Length, FITS structure, FITS checksums where the file has them, and the size against the
table unless the checksums prove the file whole: :func:`verify_fits`) and only then renamed onto
the output. A failed check deletes the part file so the next attempt starts
clean; nothing unverified ever carries the product's name.

A MAST token, when the environment variable named in the config holds one, goes into the
``Authorization`` header and nowhere else: URLs carry no token and the log never prints headers.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import requests

from .integrity import fits_problem, has_checksums, sha256_of

log = logging.getLogger(__name__)

CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """The product could not be fetched and verified; the message says why."""


class _Refused(DownloadError):
    """A failure no retry can mend (access refused, no such product, nowhere to write)."""


class _Retryable(Exception):
    """A failure worth another attempt (network, 5xx, 429, short or bad body)."""


@dataclass(frozen=True)
class DownloadSpec:
    uri: str  # mast:JWST/product/<file>
    output: Path
    expected_size: int | None = None
    archive_url: str = "https://mast.stsci.edu/api/v0.1/Download/file"
    token: str | None = None
    retries: int = 6
    timeout: float = 120.0
    backoff: float = 2.0  # seconds before the second attempt; doubles each time, at most 60
    not_found: str = "not found at the archive (HTTP 404); check the dataURI in the fields table"


def product_url(archive_url: str, uri: str) -> str:
    return f"{archive_url}?uri={quote(uri, safe=':/')}"


def fetch(spec: DownloadSpec, sleep=time.sleep) -> Path:
    """Download ``spec.uri`` to ``spec.output``; raise :class:`DownloadError` after the retries."""
    return _fetch(
        product_url(spec.archive_url, spec.uri),
        spec,
        lambda part: verify_fits(part, spec.expected_size),
        f"Check the archive ({spec.archive_url}) and rerun",
        sleep,
    )


def fetch_url(
    url: str,
    output: str | Path,
    sha256: str | None = None,
    retries: int = 6,
    timeout: float = 120.0,
    backoff: float = 2.0,
    sleep=time.sleep,
) -> Path:
    """Download any ``url`` to ``output`` with the same transport as :func:`fetch` (``.part``
    file, Range resume, retries with backoff on network errors, 5xx, short bodies), checked
    against ``sha256`` (hex) when given. Returns the output; raises :class:`DownloadError`."""
    output = Path(output)
    spec = DownloadSpec(
        uri=output.name, output=output, retries=retries, timeout=timeout, backoff=backoff,
        not_found=f"not found at {url} (HTTP 404); check the URL in the config",
    )  # fmt: skip

    def verify(part: Path) -> None:
        if sha256:
            found = sha256_of(part)
            if found != sha256.lower():
                raise DownloadError(
                    f"{output.name}: sha256 {found} from {url}, the config pins {sha256}"
                )

    return _fetch(url, spec, verify, f"Check {url} and rerun", sleep)


def _fetch(url: str, spec: DownloadSpec, verify, hint: str, sleep) -> Path:
    output = Path(spec.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    part = output.with_name(output.name + ".part")
    headers = {"User-Agent": "wfsspipe-download"}
    if spec.token:
        headers["Authorization"] = f"token {spec.token}"
    last_problem = "no attempt made"
    for attempt in range(1, spec.retries + 1):
        try:
            _attempt(url, part, headers, spec)
            verify(part)
        except _Retryable as problem:
            last_problem = str(problem)
        except _Refused:
            part.unlink(missing_ok=True)
            raise
        except DownloadError as problem:  # verification failed: start from scratch next time
            last_problem = str(problem)
            part.unlink(missing_ok=True)
        else:
            os.replace(part, output)
            log.info("verified and saved %s (%d bytes)", output.name, output.stat().st_size)
            return output
        if attempt < spec.retries:
            wait = min(spec.backoff * 2 ** (attempt - 1), 60.0)
            log.warning(
                "attempt %d/%d for %s failed: %s; retrying in %.0f s",
                attempt,
                spec.retries,
                spec.uri,
                last_problem,
                wait,
            )
            sleep(wait)
    part.unlink(missing_ok=True)
    raise DownloadError(
        f"{spec.uri}: gave up after {spec.retries} attempts; last problem: {last_problem}. "
        f"{hint}; nothing was left at {output}."
    )


def _attempt(url: str, part: Path, headers: dict, spec: DownloadSpec) -> None:
    have = part.stat().st_size if part.exists() else 0
    request_headers = dict(headers)
    if have:
        request_headers["Range"] = f"bytes={have}-"
    try:
        response = requests.get(
            url, headers=request_headers, stream=True, timeout=(30, spec.timeout)
        )
    except requests.RequestException as error:
        raise _Retryable(f"request failed: {type(error).__name__}") from None
    with response:
        if response.status_code in (401, 403):
            raise _Refused(
                f"{spec.uri}: the archive refused access (HTTP {response.status_code}); "
                "for proprietary data set a MAST token in the configured environment variable"
            )
        if response.status_code == 404:
            raise _Refused(f"{spec.uri}: {spec.not_found}")
        if response.status_code == 416 and have:  # our part is complete or bigger than the file
            part.unlink(missing_ok=True)
            raise _Retryable("range not satisfiable; restarting")
        if response.status_code >= 400:
            raise _Retryable(f"HTTP {response.status_code}")
        if have and response.status_code != 206:
            have = 0  # the server ignored the Range: start over
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else spec.expected_size
        if spec.expected_size is not None and total is not None and total != spec.expected_size:
            # MAST's product sizes are known to be unreliable (astroquery says so): the file's
            # own structure and checksums decide (verify_fits), not the table.
            log.warning(
                "%s: the archive offers %d bytes but the fields table says %d; downloading it "
                "and checking its FITS structure and checksums instead",
                spec.uri, total, spec.expected_size,
            )  # fmt: skip
        mode = "ab" if have else "wb"
        received, next_report = have, 0.1
        started = time.monotonic()
        try:
            with open(part, mode) as handle:
                for chunk in response.iter_content(CHUNK):
                    handle.write(chunk)
                    received += len(chunk)
                    if total and received / total >= next_report:
                        rate = (received - have) / max(time.monotonic() - started, 1e-3) / 1e6
                        log.info(
                            "%s: %3.0f%% of %.1f MB (%.1f MB/s)",
                            part.name[:-5],
                            100 * received / total,
                            total / 1e6,
                            rate,
                        )
                        next_report += 0.1
                handle.flush()
                os.fsync(handle.fileno())
        except (requests.RequestException, OSError) as error:
            if (
                isinstance(error, OSError)
                and not isinstance(error, ConnectionError)
                and error.errno is not None
            ):
                # A full disk or a read-only folder: retrying only downloads the same bytes again.
                raise _Refused(
                    f"{spec.uri}: cannot write {part}: {error}; free space (or fix permissions) "
                    "there and rerun"
                ) from None
            timed_out = "timed out" in str(error).lower()  # requests wraps read timeouts
            reason = f"no data for {spec.timeout:g} s" if timed_out else type(error).__name__
            raise _Retryable(f"transfer interrupted after {received} bytes ({reason})") from None
        if total is not None and received < total:
            raise _Retryable(f"transfer ended early: {received} of {total} bytes")


def verify_fits(path: Path, expected_size: int | None) -> None:
    """Check a downloaded FITS file: block structure of every HDU, checksums where present, and
    the size the table gives. A size that differs from the table is accepted (with a warning)
    when every HDU carries CHECKSUM and DATASUM and they verify: the file proves itself whole,
    and MAST's reported sizes are known to be unreliable. Without checksums it is an error."""
    name = path.name[:-5] if path.name.endswith(".part") else path.name
    problem = fits_problem(path)
    if problem:
        raise DownloadError(f"{path.name}: {problem}")
    size = path.stat().st_size
    if expected_size is None or size == expected_size:
        return
    if not has_checksums(path):
        raise DownloadError(
            f"{name}: {size} bytes, the table says {expected_size}, and the file has no FITS "
            "checksums to prove it whole; recompute the table if the product was reprocessed"
        )
    log.warning(
        "%s: %d bytes where the fields table says %d; kept: its FITS structure and the "
        "CHECKSUM/DATASUM of every HDU verify",
        name, size, expected_size,
    )  # fmt: skip
