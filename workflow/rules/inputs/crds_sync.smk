# crds_sync: the input, param and resource functions of workflow/rules/crds_sync.smk.


def crds_sync_uncals(wildcards):
    """The field's UNCAL files: the sync reads each one's CRDS parameters from its header."""
    require_fields()
    return [LAYOUT.uncal(wildcards.field, e) for e in FIELDS.exposures(wildcards.field)]
