# preprocess: the input, param and resource functions of workflow/rules/preprocess.smk.
from wfsspipe.preprocess import DEFAULT_RATE_MB
from wfsspipe.preprocess import preprocess_mem_mb as _preprocess_mem_mb
from wfsspipe.resources import preprocess_runtime as _preprocess_runtime


def preprocess_params(wildcards):
    return {key: config[key] for key in ("preprocess", "grizli", "crds", "products")}


def preprocess_threads(wildcards):
    """AstroDrizzle (CR rejection) works on a visit's exposures in parallel: up to 4 cores."""
    return min(4, max(table_facts(wildcards.field).direct.values(), default=1))


def preprocess_mem_mb(wildcards, input, threads, attempt):
    """Grows with the field's RATE data (files when there, else the table's count), the
    AstroDrizzle workers (threads) and the attempt."""
    rates = [str(path) for path in input.rates]
    sizes = [os.path.getsize(p) / 1e6 if os.path.exists(p) else DEFAULT_RATE_MB for p in rates]
    return _preprocess_mem_mb(sizes, threads, attempt)


def preprocess_runtime(wildcards, attempt):
    """Minutes: grows with the field's exposures (from the table) and the attempt."""
    return _preprocess_runtime(table_facts(wildcards.field).exposures, attempt)
