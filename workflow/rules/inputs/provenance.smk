# provenance: the input, param and resource functions of workflow/rules/provenance.smk.
def provenance_inputs(wildcards):
    """Everything the record describes: the field's RATE files, its visit table (how each visit
    was aligned) and its redshift results."""
    return {
        "rates": field_rates(wildcards.field),
        "visits": LAYOUT.visits_table(wildcards.field),
        "results": LAYOUT.redshift_results(wildcards.field),
    }
