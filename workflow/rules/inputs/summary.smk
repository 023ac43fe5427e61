# summary: the input, param and resource functions of workflow/rules/summary.smk.
def summary_catalog_fields(wildcards=None):
    """Fields of the combined catalogue (those with a photometric catalogue): their catalogue
    and, once zfit makes it, their redshift table (None before)."""
    fields = {}
    for field in FIELDS.fields:
        if field_direct_filters(field):
            redshifts = LAYOUT.redshift_results(field)[0]
            fitted = redshifts in redshift_targets(field)
            fields[field] = {
                "phot": LAYOUT.catalog(field)["phot"],
                "redshifts": redshifts if fitted else None,
                "extractions": LAYOUT.extract_table(field) if fitted else None,
            }
    return fields


def summary_catalog_inputs(wildcards):
    fields = summary_catalog_fields().values()
    return {
        "phot": [paths["phot"] for paths in fields],
        "redshifts": [paths["redshifts"] for paths in fields if paths["redshifts"]],
        "extractions": [paths["extractions"] for paths in fields if paths["extractions"]],
    }


def summary_catalog_mem_mb(wildcards, attempt):
    """Grows with the number of fields (their catalogues are held together) and the attempt."""
    return grow(1000 + 4 * len(FIELDS.fields), attempt)


def summary_field_targets(wildcards=None):
    """What each field's row on the index page links to: its web map, else its RGB image."""
    targets = {}
    for field in FIELDS.fields:
        maps = webmap_targets(field)
        if maps:
            targets[field] = [str(path) for path in maps]
        elif field_direct_filters(field):
            targets[field] = [LAYOUT.catalog(field)["rgb"]]
    return targets


def summary_index_links():
    """(label, input name) of the links at the top of the index page."""
    links = [
        ("catalogue (FITS)", "catalog_fits"),
        ("catalogue (CSV)", "catalog_csv"),
        ("redshift distribution", "redshifts_plot"),
    ]
    return links + ([("injected vs measured z", "truth_plot")] if summary_truth() else [])


def summary_index_inputs(wildcards):
    inputs = {name: LAYOUT.survey(name) for _, name in summary_index_links()}
    inputs["fields_csv"] = str(FIELDS.path)
    inputs["maps"] = [path for paths in summary_field_targets().values() for path in paths]
    inputs["thumbnails"] = list(summary_thumbnails().values())
    inputs["visits"] = list(summary_visit_tables().values())
    return inputs


def summary_visit_tables(wildcards=None):
    """Each field's visit table: how its visits were aligned, shown on the index page."""
    return {field: LAYOUT.visits_table(field) for field in FIELDS.fields}


def summary_thumbnails(wildcards=None):
    """The RGB image each field with direct imaging shows small on the index page."""
    return {
        field: LAYOUT.catalog(field)["rgb"]
        for field in FIELDS.fields
        if field_direct_filters(field)
    }


def summary_truth():
    """The truth table of a synthetic field (summary.truth), or "" (no comparison)."""
    return config["summary"]["truth"]


def summary_truth_input(wildcards):
    if not summary_truth():
        raise WorkflowError(
            "set summary.truth to a truth table (id, ra, dec, z) to compare redshifts"
        )
    return summary_truth()


def summary_targets():
    """Products over all fields: index page, combined catalogue, QC plots."""
    targets = [LAYOUT.visits_plot(field) for field in FIELDS.fields]
    names = ["index", "catalog_fits", "catalog_csv", "redshifts_plot"]
    if summary_truth():
        names += ["truth_plot", "truth_table"]
    return targets + [LAYOUT.survey(name) for name in names]
