# provenance: the input, param and resource functions of workflow/rules/provenance.smk.
def provenance_inputs(wildcards):
    """Everything the record describes: the field's RATE files and its redshift results."""
    return {
        "rates": field_rates(wildcards.field),
        "results": LAYOUT.redshift_results(wildcards.field),
    }
