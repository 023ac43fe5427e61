"""The network boundary of ``computeFields.py``: MAST queries through astroquery.

Per program: one ``query_criteria`` for its NIRISS imaging/WFSS observations, then only the
exposure-level rows we may use (public ones, unless proprietary data were asked for with a MAST
token) go to ``get_product_list``, in batches of ``batch_size`` obsids. astroquery sends one
request per call with a 600 s limit, and WFSS programs hold thousands of level-3 source
"observations", so one call per program would time out. Transient failures (connection errors,
timeouts, HTTP 429/5xx) are retried with backoff; the error names the program and the batch.

Where MAST is: astroquery's own setting (``[mast] server`` in ``astroquery.cfg``).
"""

from __future__ import annotations

import logging
import os

from .table import Rejection, scope_problem

log = logging.getLogger(__name__)

INSTRUMENTS = ["NIRISS/IMAGE", "NIRISS/WFSS"]
ATTEMPTS = 5
BATCH_SIZE = 300
TRANSIENT_STATUS = {429, 500, 502, 503, 504}
TOKEN_ENV = "MAST_API_TOKEN"  # where astroquery's login looks for the token


class MastUnavailable(RuntimeError):
    """MAST could not be reached, kept failing or refused the query."""


def _transient(error: BaseException) -> bool:
    import requests

    if isinstance(error, requests.HTTPError):
        return error.response is not None and error.response.status_code in TRANSIENT_STATUS
    return isinstance(
        error, (requests.ConnectionError, requests.Timeout, TimeoutError, ConnectionError)
    )


def _call(what: str, function, *args, retry_wait: float, **kwargs):
    """``function(*args, **kwargs)``, retried on transient errors; MastUnavailable naming ``what``."""
    from tenacity import (
        RetryError,
        Retrying,
        before_sleep_log,
        retry_if_exception,
        stop_after_attempt,
        wait_exponential,
    )

    retrying = Retrying(
        retry=retry_if_exception(_transient),
        stop=stop_after_attempt(ATTEMPTS),
        wait=wait_exponential(multiplier=retry_wait, max=60 * retry_wait),
        before_sleep=before_sleep_log(log, logging.WARNING),
    )
    try:
        return retrying(function, *args, **kwargs)
    except RetryError as error:
        cause = error.last_attempt.exception()
        raise MastUnavailable(
            f"MAST could not be reached for {what} after {ATTEMPTS} attempts ({cause}). "
            "Check the network (or astroquery's [mast] server setting), or run with --from-table "
            "on a saved table."
        ) from cause
    except Exception as error:  # astroquery raises RemoteServiceError, InvalidQueryError, ...
        raise MastUnavailable(
            f"MAST refused the query for {what}: {type(error).__name__}: {error}"
        ) from error


def login(retry_wait: float = 2.0) -> None:
    """Log in through astroquery with the token in $MAST_API_TOKEN (for exclusive-access data)."""
    if not os.environ.get(TOKEN_ENV):
        raise MastUnavailable(
            f"--proprietary needs a MAST token: set {TOKEN_ENV} (make one at "
            "https://auth.mast.stsci.edu/token)"
        )
    from astroquery.mast import Observations

    try:
        _call("the login", Observations.login, retry_wait=retry_wait)  # LoginError if refused
    except MastUnavailable as error:
        raise MastUnavailable(
            f"logging in to MAST with the token in {TOKEN_ENV} failed: {error}"
        ) from None


def query_observations(
    proposal_ids: list[str],
    batch_size: int = BATCH_SIZE,
    proprietary: bool = False,
    retry_wait: float = 2.0,
):
    """NIRISS imaging and WFSS exposures of the programs, with their UNCAL ``dataURI`` and size.

    Returns ``(table, rejected)``: the rows we may use joined with their UNCAL product, and the
    rows left out before or by the product query (:class:`~.table.Rejection`).
    Raises :class:`MastUnavailable` naming the program when MAST cannot answer after retries.
    """
    from astropy.table import Table, join, vstack
    from astroquery.mast import Observations

    if proprietary:
        login(retry_wait)
    tables, rejected = [], []
    for proposal_id in proposal_ids:
        observations = _call(
            f"program {proposal_id}",
            Observations.query_criteria,
            obs_collection="JWST",
            instrument_name=INSTRUMENTS,
            proposal_id=[proposal_id],
            retry_wait=retry_wait,
        )
        if len(observations) == 0:
            log.warning("MAST has no NIRISS observations for program %s", proposal_id)
            continue
        keep = []
        for index, row in enumerate(observations):
            rights = str(row["dataRights"]) if "dataRights" in observations.colnames else ""
            problem = scope_problem(str(row["obs_id"]).strip().lower(), rights, proprietary)
            if problem:
                rejected.append(Rejection(str(row["obs_id"]), proposal_id, *problem))
            else:
                keep.append(index)
        observations = observations[keep]
        obsids = [str(o) for o in observations["obsid"]]
        batches = [obsids[i : i + batch_size] for i in range(0, len(obsids), batch_size)]
        log.info(
            "program %s: %d observations, %d exposures to look up in %d product batch(es)",
            proposal_id,
            len(observations) + sum(r.proposal_id == proposal_id for r in rejected),
            len(obsids),
            len(batches),
        )
        products = []
        for number, batch in enumerate(batches, start=1):
            found = _call(
                f"program {proposal_id} (product batch {number}/{len(batches)}, "
                f"{len(batch)} obsids)",
                _uncal_products,
                batch,
                retry_wait=retry_wait,
            )
            log.info(
                "program %s: product batch %d/%d: %d UNCAL files",
                proposal_id,
                number,
                len(batches),
                len(found),
            )
            products.append(found)
        products = vstack(products) if products else Table()
        if len(products) == 0:
            log.warning("program %s: MAST lists no UNCAL products", proposal_id)
            found_obsids = set()
        else:
            products = products["parent_obsid", "productFilename", "dataURI", "size"]
            products.rename_column("parent_obsid", "obsid")
            products["obsid"] = products["obsid"].astype(str)
            found_obsids = set(products["obsid"])
        for row in observations:
            if str(row["obsid"]) not in found_obsids:
                rejected.append(
                    Rejection(
                        str(row["obs_id"]),
                        proposal_id,
                        "no-uncal",
                        "MAST's product list has no UNCAL file for it",
                    )
                )
        if found_obsids:
            observations["obsid"] = observations["obsid"].astype(str)
            tables.append(join(observations, products, keys="obsid", join_type="inner"))
    return (vstack(tables) if tables else Table()), rejected


def _uncal_products(obsids: list[str]):
    from astroquery.mast import Observations

    products = Observations.get_product_list(obsids)
    if len(products) == 0:
        return products
    return Observations.filter_products(
        products, productType="SCIENCE", productSubGroupDescription="UNCAL"
    )
