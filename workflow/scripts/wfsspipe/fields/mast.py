"""The network boundary of ``computeFields.py``: MAST queries through astroquery.

Everything that talks to MAST is here, so tests (and users with a saved table) replace exactly
this. Each program is queried separately and transient failures are retried with backoff.
"""

from __future__ import annotations

import logging

from astropy.table import Table, join, vstack
from tenacity import (
    RetryError,
    before_sleep_log,
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

log = logging.getLogger(__name__)

INSTRUMENTS = ["NIRISS/IMAGE", "NIRISS/WFSS"]
ATTEMPTS = 5


class MastUnavailable(RuntimeError):
    """MAST could not be reached or kept failing."""


def _transient(error: BaseException) -> bool:
    import requests

    return isinstance(
        error, (requests.ConnectionError, requests.Timeout, TimeoutError, ConnectionError)
    )


_retrying = retry(
    retry=retry_if_exception(_transient),
    stop=stop_after_attempt(ATTEMPTS),
    wait=wait_exponential(multiplier=2, max=60),
    before_sleep=before_sleep_log(log, logging.WARNING),
    reraise=False,
)


@_retrying
def _query_program(proposal_id: str) -> Table:
    from astroquery.mast import Observations

    return Observations.query_criteria(
        obs_collection="JWST", instrument_name=INSTRUMENTS, proposal_id=[proposal_id]
    )


@_retrying
def _uncal_products(obsids: list[str]) -> Table:
    from astroquery.mast import Observations

    products = Observations.get_product_list(obsids)
    return Observations.filter_products(
        products, productType="SCIENCE", productSubGroupDescription="UNCAL"
    )


def query_observations(proposal_ids: list[str]) -> Table:
    """NIRISS imaging and WFSS observations of the programs, with their UNCAL ``dataURI`` and size.

    Raises :class:`MastUnavailable` when MAST cannot be reached after retries.
    """
    tables = []
    for proposal_id in proposal_ids:
        log.info("querying MAST for NIRISS observations of program %s", proposal_id)
        try:
            observations = _query_program(proposal_id)
            if len(observations) == 0:
                log.warning("MAST has no NIRISS observations for program %s", proposal_id)
                continue
            products = _uncal_products(list(observations["obsid"]))
        except RetryError as error:
            cause = error.last_attempt.exception()
            raise MastUnavailable(
                f"MAST could not be reached for program {proposal_id} after {ATTEMPTS} attempts "
                f"({cause}). Check the network, or run with --from-table on a saved table."
            ) from cause
        products = products["parent_obsid", "productFilename", "dataURI", "size"]
        products.rename_column("parent_obsid", "obsid")
        tables.append(join(observations, products, keys="obsid", join_type="inner"))
    return vstack(tables) if tables else Table()
