# grizli_config: the input, param and resource functions of workflow/rules/grizli_config.smk.
from wfsspipe.grizli_config import manifest_path, sources_from_config
from wfsspipe.grizli_config import table_check_message, table_problems

GRIZLI_SOURCES = sources_from_config(config["grizli_config"]["sources"])
# The rule's output, an input of every grizli stage that reads CONF/ or templates/ (ancient: it
# orders the jobs and proves $GRIZLI complete; rebuilding $GRIZLI remakes no product by itself).
GRIZLI_MANIFEST = str(manifest_path(config["grizli"]["path"]))

_grizli_problems = table_problems(
    config["grizli"]["path"], GRIZLI_SOURCES, FIELDS.rows.to_dict("records")
)
if _grizli_problems:
    raise WorkflowError(table_check_message(config["grizli"]["path"], _grizli_problems))


def grizli_config_sources():
    """The sources without their URLs (the rule's params)."""
    return [
        {key: value for key, value in entry.items() if key != "url"}
        for entry in config["grizli_config"]["sources"]
    ]
