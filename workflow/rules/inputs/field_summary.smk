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


def summary_products(wildcards):
    """The products of the summary's stages, by stage (a clear error for an unknown field)."""
    field_rate_inputs(wildcards)
    products = field_stage_products(wildcards.field)
    stages = FIELD_SUMMARIES[wildcards.summary][1]
    return {stage: products[stage] for stage in stages if stage in products}


def field_summary_inputs(wildcards):
    """The summary's products by stage; the RATE files only for the Stage 1 summary: a later
    stage's products imply them, and each request of every RATE file costs a survey's dry run
    time and memory (bench/RESULTS.md)."""
    products = summary_products(wildcards)
    if set(products) == {"stage1"}:
        return products
    return {stage: paths for stage, paths in products.items() if stage != "stage1"}


def field_summary_rates(wildcards):
    """The RATE files the summary lists (params: inputs only of the Stage 1 summary)."""
    covers_stage1 = "stage1" in FIELD_SUMMARIES[wildcards.summary][1]
    return field_rates(wildcards.field) if covers_stage1 else []


def field_summary_title(wildcards):
    return f"run summary ({FIELD_SUMMARIES[wildcards.summary][0]})"


def field_folder(wildcards):
    return LAYOUT.field(wildcards.field)


def field_summary_targets(field):
    """The whole-field summary, a target of every field."""
    return [LAYOUT.log(field, "fmap")]
