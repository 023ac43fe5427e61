"""Where every product lives: the one module that spells product folders and file names.

The rules (through :class:`Layout`, rooted at ``fields_dir``), the stage modules (through the
``*_name`` functions, inside the folders they build), the web map, the index page and the run
summaries all ask this module; ``tests/unit/test_layout.py`` fails when a product suffix is
spelled anywhere else in the package or the rule files. FIELDS/README.md describes the products.

::

    {fields_dir}/
      fields.csv  field_names.json  rejected.csv  fields.png      computeFields.py
      index.html  catalog.fits  catalog.csv  summary/              summary rules
      {field}/
        UNCAL/{exposure}_uncal.fits                                download
        crds_references.json                                       crds_sync
        RATE/{exposure}_rate.fits                                  stage1
        Prep/{field}_visits.ecsv, _footprint.png, {exposure}_rate.fits   preprocess
        Mosaic/{field}-{filter}_drz_sci.fits, {field}-ir.cat.fits, ...   mosaic
        Contam/{field}_contam.ecsv, {exposure}.01.GrismFLT.fits, ...     contam
        Extractions/{field}_extract.ecsv, {field}_{id:05d}.beams.fits    extract
        Redshifts/{field}_redshifts.fits, .csv, {field}_{id:05d}.full.fits  zfit
        {field}_provenance.json                                    provenance
        fitsmap/index.html                                         fitsmap
        QC/{field}_visits.png                                      summary_visits
        logs/{stage}[/{job}].log, logs/{summary}.log               every rule, field_summary
        benchmarks/{stage}[/{job}].tsv                              the grizli and Stage 1 rules

JWST's own names (exposure roots, UNCAL file names) are here too: every filename from a table
must match them before it is used in a path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

# --- JWST names ---------------------------------------------------------------------------------
# jw PPPPP OOO VVV _ GG S AA _ EEEEE _ detector: program, observation, visit, visit group,
# parallel sequence, activity (base 36), exposure, detector. NIRISS detector is ``nis``.
EXPOSURE_PATTERN = r"jw\d{11}_\d{3}[0-9a-z]{2}_\d{5}_nis"
EXPOSURE_RE = re.compile(rf"^{EXPOSURE_PATTERN}$")
UNCAL_SUFFIX = "_uncal.fits"
RATE_SUFFIX = "_rate.fits"
UNCAL_RE = re.compile(rf"^({EXPOSURE_PATTERN}){re.escape(UNCAL_SUFFIX)}$")
FIELD_PATTERN = r"[a-z]{3}-\d{2,3}"
FIELD_RE = re.compile(rf"^{FIELD_PATTERN}$")


def is_exposure(obs_id: str) -> bool:
    """True for an exposure-level NIRISS product root such as ``jw01571001001_02101_00001_nis``."""
    return bool(EXPOSURE_RE.match(obs_id))


def uncal_filename(obs_id: str) -> str:
    """``{obs_id}_uncal.fits``, refusing anything that is not an exposure name."""
    if not is_exposure(obs_id):
        raise ValueError(
            f"{obs_id!r} is not a NIRISS exposure name like jw01571001001_02101_00001_nis"
        )
    return f"{obs_id}{UNCAL_SUFFIX}"


def exposure_of(filename: str) -> str:
    """The exposure root of an UNCAL filename, refusing anything else (paths included)."""
    match = UNCAL_RE.match(filename)
    if not match:
        raise ValueError(f"{filename!r} is not a NIRISS UNCAL product name (jw..._nis_uncal.fits)")
    return match.group(1)


def rate_name(exposure: str) -> str:
    """A Stage 1 product (``RATE/``) and a prepared exposure (``Prep/``) of an exposure root."""
    return f"{exposure}{RATE_SUFFIX}"


def exposure_of_rate(filename: str) -> str:
    """The exposure root of a ``*_rate.fits`` name."""
    return filename.removesuffix(RATE_SUFFIX)


# --- computeFields.py: the tables in fields_dir --------------------------------------------------
FIELDS_CSV = "fields.csv"
REGISTRY = "field_names.json"
REJECTED_CSV = "rejected.csv"
SKY_PLOT = "fields.png"

# --- the folders of a field ----------------------------------------------------------------------
UNCAL_DIR = "UNCAL"
RATE_DIR = "RATE"
PREP_DIR = "Prep"
MOSAIC_DIR = "Mosaic"
CONTAM_DIR = "Contam"
EXTRACT_DIR = "Extractions"
REDSHIFT_DIR = "Redshifts"
MAP_DIR = "fitsmap"
QC_DIR = "QC"
LOG_DIR = "logs"
BENCHMARK_DIR = "benchmarks"
CRDS_RECORD = "crds_references.json"

# --- preprocess (Prep/) --------------------------------------------------------------------------
VISITS_SUFFIX = "_visits.ecsv"
FOOTPRINT_SUFFIX = "_footprint.png"


def visits_table_name(field: str) -> str:
    """The preprocess manifest: one row per prepared exposure."""
    return f"{field}{VISITS_SUFFIX}"


def footprint_name(field: str) -> str:
    return f"{field}{FOOTPRINT_SUFFIX}"


def visit_wcs_log_name(visit: str) -> str:
    """grizli's alignment log of a direct visit."""
    return f"{visit}_wcs.log"


# grizli's visit-level images, not kept with products.keep: science
VISIT_INTERMEDIATES = ("_drz_sci.fits", "_drz_wht.fits", "_bkg.fits", "_seg.fits")

# --- mosaic (Mosaic/) ----------------------------------------------------------------------------
DETECTION = "ir"  # grizli's name of the detection image (the filters' weighted sum)
MOSAIC_SCI_SUFFIX = "_drz_sci.fits"
MOSAIC_WHT_SUFFIX = "_drz_wht.fits"
PHOT_SUFFIX = "_phot.fits"
RGB_SUFFIX = "_rgb"  # grizli field_rgb's suffix (a PNG)


def filter_mosaic_names(field: str, filt: str) -> tuple[str, str]:
    """(science, weight) file names of a filter mosaic (``filt`` in any case)."""
    stem = f"{field}-{filt.lower()}"
    return f"{stem}{MOSAIC_SCI_SUFFIX}", f"{stem}{MOSAIC_WHT_SUFFIX}"


def catalog_names(field: str) -> dict[str, str]:
    """File names of the mosaic rule's products, by what they are."""
    stem = f"{field}-{DETECTION}"
    return {
        "ir_sci": f"{stem}{MOSAIC_SCI_SUFFIX}",
        "ir_wht": f"{stem}{MOSAIC_WHT_SUFFIX}",
        "seg": f"{stem}_seg.fits",
        "detection_catalog": f"{stem}.cat.fits",
        "phot": f"{field}{PHOT_SUFFIX}",
        "rgb": f"{field}{RGB_SUFFIX}.png",
    }


# --- contam (Contam/) ----------------------------------------------------------------------------
CONTAM_SUFFIX = "_contam.ecsv"
GRISMFLT_SUFFIX = ".01.GrismFLT.fits"  # grizli's save_full_data name


def contam_manifest_name(field: str) -> str:
    return f"{field}{CONTAM_SUFFIX}"


def contam_overview_name(field: str) -> str:
    """One figure with every grism model colour image (the report's QC plot)."""
    return f"{field}_contam_models.png"


def grismflt_name(exposure_file: str) -> str:
    """grizli's save name of a prepared grism exposure (``*_rate.fits`` -> ``*.01.GrismFLT.fits``)."""
    return exposure_file.replace(RATE_SUFFIX, GRISMFLT_SUFFIX)


def contam_model_name(field: str, grism: str, pa: int, filt: str) -> str:
    """A grism filter's drizzled model image at one position angle."""
    return f"{field}-{grism.lower()}-pa{pa:03d}-{filt.lower()}_model.fits"


def contam_rgb_name(field: str, grism: str, pa: int) -> str:
    """The colour image of a grism's models at one position angle (filters by wavelength)."""
    return f"{field}_{grism.lower()}-pa{pa:03d}_models_rgb.png"


# --- extract (Extractions/) and zfit (Redshifts/) ----------------------------------------------
EXTRACT_SUFFIX = "_extract.ecsv"
BEAMS_SUFFIX = ".beams.fits"
REDSHIFTS_STEM = "_redshifts"
REDSHIFTS_SUFFIX = f"{REDSHIFTS_STEM}.fits"
# grizli's names of a source's fit products (``{field}_{id:05d}.{kind}``), by what they are
FIT_PRODUCTS = {
    "fit": "full.fits",
    "fit_plot": "full.png",
    "spectrum_plot": "stack.png",
    "line_plot": "line.png",
}


def extract_table_name(field: str) -> str:
    return f"{field}{EXTRACT_SUFFIX}"


def source_stem(field: str, source_id: int) -> str:
    """grizli's root of a source's files: ``{field}_{id:05d}``."""
    return f"{field}_{int(source_id):05d}"


def beams_name(field: str, source_id: int) -> str:
    return f"{source_stem(field, source_id)}{BEAMS_SUFFIX}"


def stack_names(field: str, source_id: int) -> tuple[str, str]:
    """(FITS, PNG) of a source's stacked 2D spectra."""
    stem = source_stem(field, source_id)
    return f"{stem}.stack.fits", f"{stem}.stack.png"


def fit_product_name(stem: str, kind: str) -> str:
    """A fit product of a source (``kind`` a key of :data:`FIT_PRODUCTS`)."""
    return f"{stem}.{FIT_PRODUCTS[kind]}"


def redshift_results_names(field: str) -> tuple[str, str]:
    """(FITS, CSV) of a field's redshift table."""
    return f"{field}{REDSHIFTS_SUFFIX}", f"{field}{REDSHIFTS_STEM}.csv"


# --- provenance, web map, QC, logs ---------------------------------------------------------------
PROVENANCE_SUFFIX = "_provenance.json"
MAP_INDEX = "index.html"
MAP_MANIFEST = "webmap.json"


def provenance_name(field: str) -> str:
    return f"{field}{PROVENANCE_SUFFIX}"


def map_index_relpath(field: str) -> str:
    """The map's ``index.html`` of a field, relative to ``fields_dir`` (POSIX), e.g. for links
    from the page of all fields at ``{fields_dir}/index.html``."""
    return f"{field}/{MAP_DIR}/{MAP_INDEX}"


def visits_plot_name(field: str) -> str:
    """The visit layout plot (exposures by filter, element, PA and time)."""
    return f"{field}_visits.png"


# --- over all fields (the summary rules) ---------------------------------------------------------
SURVEY = {
    "index": "index.html",
    "catalog_fits": "catalog.fits",
    "catalog_csv": "catalog.csv",
    "redshifts_plot": "summary/redshifts.png",
    "truth_plot": "summary/z_truth.png",
    "truth_table": "summary/z_truth.ecsv",
}


@dataclass(frozen=True)
class Layout:
    """Paths of every product under ``root`` (``fields_dir`` as the rules spell it).

    Arguments default to Snakemake's wildcards, so ``Layout(out).rate()`` is the rule's output
    pattern and ``Layout(out).rate(field, exposure)`` one product.
    """

    root: str

    def field(self, field: str = "{field}") -> str:
        return f"{self.root}/{field}"

    def folder(self, field: str, name: str) -> str:
        return f"{self.field(field)}/{name}"

    # download, crds_sync, stage1
    def uncal(self, field: str = "{field}", exposure: str = "{exposure}") -> str:
        return f"{self.folder(field, UNCAL_DIR)}/{exposure}{UNCAL_SUFFIX}"

    def crds_record(self, field: str = "{field}") -> str:
        return f"{self.field(field)}/{CRDS_RECORD}"

    def rate(self, field: str = "{field}", exposure: str = "{exposure}") -> str:
        return f"{self.folder(field, RATE_DIR)}/{rate_name(exposure)}"

    # preprocess
    def prep(self, field: str = "{field}") -> str:
        return self.folder(field, PREP_DIR)

    def visits_table(self, field: str = "{field}") -> str:
        return f"{self.prep(field)}/{visits_table_name(field)}"

    def footprint(self, field: str = "{field}") -> str:
        return f"{self.prep(field)}/{footprint_name(field)}"

    # mosaic
    def mosaic(self, field: str = "{field}") -> str:
        return self.folder(field, MOSAIC_DIR)

    def filter_mosaic(self, field: str = "{field}", filt: str = "{filter}") -> list[str]:
        """[science, weight] of a filter mosaic (``filt`` lower case, or the wildcard)."""
        return [f"{self.mosaic(field)}/{name}" for name in filter_mosaic_names(field, filt)]

    def catalog(self, field: str = "{field}") -> dict[str, str]:
        """The mosaic rule's products (IR image, segmentation, catalogues, RGB), by name."""
        return {key: f"{self.mosaic(field)}/{n}" for key, n in catalog_names(field).items()}

    # contam, extract, zfit, provenance
    def contam_manifest(self, field: str = "{field}") -> str:
        return f"{self.folder(field, CONTAM_DIR)}/{contam_manifest_name(field)}"

    def contam_overview(self, field: str = "{field}") -> str:
        return f"{self.folder(field, CONTAM_DIR)}/{contam_overview_name(field)}"

    def extract_table(self, field: str = "{field}") -> str:
        return f"{self.folder(field, EXTRACT_DIR)}/{extract_table_name(field)}"

    def redshift_results(self, field: str = "{field}") -> list[str]:
        """[FITS, CSV] of zfit's table."""
        folder = self.folder(field, REDSHIFT_DIR)
        return [f"{folder}/{name}" for name in redshift_results_names(field)]

    def provenance(self, field: str = "{field}") -> str:
        return f"{self.field(field)}/{provenance_name(field)}"

    # fitsmap
    def map_dir(self, field: str = "{field}") -> str:
        return self.folder(field, MAP_DIR)

    def map_index(self, field: str = "{field}") -> str:
        return f"{self.map_dir(field)}/{MAP_INDEX}"

    # summaries and logs
    def visits_plot(self, field: str = "{field}") -> str:
        return f"{self.folder(field, QC_DIR)}/{visits_plot_name(field)}"

    def log(self, field: str, *parts: str) -> str:
        """A job's log under the field's ``logs/``: ``log(field, "stage1", "{exposure}")``."""
        return f"{self.folder(field, LOG_DIR)}/{'/'.join(parts)}.log"

    def benchmark(self, field: str, *parts: str) -> str:
        """A job's benchmark table under the field's ``benchmarks/``."""
        return f"{self.folder(field, BENCHMARK_DIR)}/{'/'.join(parts)}.tsv"

    def survey(self, name: str) -> str:
        """A product over all fields (a key of :data:`SURVEY`)."""
        return f"{self.root}/{SURVEY[name]}"

    def survey_log(self, *parts: str) -> str:
        return f"{self.root}/{LOG_DIR}/{'/'.join(parts)}.log"


def rule_fields_dir(fields_dir: str, workdir: str) -> str:
    """``fields_dir`` as the rules spell it: relative to Snakemake's working folder when it lies
    inside it (so ``FIELDS/...`` typed there is a target), else as an absolute path."""
    absolute = os.path.abspath(os.path.join(workdir, fields_dir))
    inside = os.path.commonpath([absolute, os.path.abspath(workdir)]) == os.path.abspath(workdir)
    return os.path.relpath(absolute, workdir) if inside else absolute


def absolute_prefix_pattern(fields_dir: str, workdir: str) -> str:
    """The regex of the ``{root}`` wildcard that starts every output, log and benchmark pattern:
    empty, or (for a relative ``fields_dir``) the working folder itself, so a product asked for
    by its absolute path is the same job as by its relative path."""
    if os.path.isabs(fields_dir):
        return "(?:)"
    spellings = {os.path.abspath(workdir), os.path.realpath(workdir)}
    return "(?:" + "|".join(re.escape(s.rstrip("/") + "/") for s in sorted(spellings)) + ")?"
