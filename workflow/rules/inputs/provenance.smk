# provenance: the input, param and resource functions of workflow/rules/provenance.smk.
def provenance_inputs(wildcards):
    """What the record describes: the field's visit table (how each visit was aligned) and its
    redshift results (the RATE files, which they imply, are params: see provenance_rates)."""
    return {
        "visits": LAYOUT.visits_table(wildcards.field),
        "results": LAYOUT.redshift_results(wildcards.field),
    }


def provenance_rates(wildcards):
    """The field's RATE files, whose checksums the record lists. Not inputs: the results imply
    them, and each request of every RATE file costs a survey's dry run time and memory."""
    return field_rates(wildcards.field)
