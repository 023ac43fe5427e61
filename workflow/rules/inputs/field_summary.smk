# field_summary: the input, param and resource functions of workflow/rules/field_summary.smk.
# Targets and their stages: each summary covers the stages up to and including its own.
FIELD_SUMMARIES = {
    "fmap": ("every stage", ["stage1", "preprocess", "mosaic", "contam", "extract", "zfit",
                             "provenance", "webmap"]),
    "stage1": ("Stage 1", ["stage1"]),
    "mosaic": ("up to the mosaics", ["stage1", "preprocess", "mosaic"]),
}  # fmt: skip


wildcard_constraints:
    summary="|".join(FIELD_SUMMARIES),


def field_summary_inputs(wildcards):
    """The products of the summary's stages, by stage (a clear error for an unknown field)."""
    field_rate_inputs(wildcards)
    products = field_stage_products(wildcards.field)
    stages = FIELD_SUMMARIES[wildcards.summary][1]
    return {stage: products[stage] for stage in stages if stage in products}


def field_summary_title(wildcards):
    return f"run summary ({FIELD_SUMMARIES[wildcards.summary][0]})"


def field_folder(wildcards):
    return LAYOUT.field(wildcards.field)


def field_summary_targets(field):
    """The whole-field summary, a target of every field."""
    return [LAYOUT.log(field, "fmap")]
