"""The product layout is spelled in one place (wfsspipe.layout), and every stage's rule file,
script, package module and test file share the stage's name (tests/README.md lists them)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from wfsspipe import layout
from wfsspipe.layout import Layout

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "workflow" / "scripts" / "wfsspipe"
RULES = ROOT / "workflow" / "rules"

# The suffixes and names of products (what a later stage, the web map or a user opens): none of
# them may be written as a literal outside wfsspipe/layout.py.
PRODUCT_LITERALS = [
    "_uncal.fits", "_rate.fits", "crds_references.json", "_visits.ecsv", "_footprint.png",
    "_drz_sci.fits", "_drz_wht.fits", "_seg.fits", ".cat.fits", "_phot.fits", "_rgb.png",
    "_contam.ecsv", "_contam_models.png", "GrismFLT.fits", "_model.fits", "_models_rgb.png",
    "_extract.ecsv", ".beams.fits", ".stack.fits", ".stack.png", ".full.fits", ".full.png",
    "_redshifts.fits", "_redshifts.csv", "_provenance.json", "_visits.png", "webmap.json", "fields.csv",
    "field_names.json", "rejected.csv", "catalog.fits", "z_truth",
    "/Prep", "/Mosaic", "/Contam", "/Extractions", "/Redshifts", "/UNCAL", "/RATE", "/QC",
    "/logs/", "/benchmarks/",
]  # fmt: skip


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """String constants of a module's code (f-string parts included), docstrings left out."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def _snakefile_strings(path: Path) -> list[tuple[int, str]]:
    """Quoted strings of a rule file outside comments."""
    found = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        code = line.split("#", 1)[0]
        found += [(number, m.group(1)) for m in re.finditer(r"\"([^\"]*)\"", code)]
    return found


def _spellings():
    modules = [
        p
        for p in sorted(PACKAGE.rglob("*.py"))
        if p.name != "layout.py" and "synthetic" not in p.parts
    ]
    scripts = sorted((ROOT / "workflow" / "scripts").glob("*.py"))
    for path in modules + scripts:
        for number, text in _code_strings(path):
            yield path, number, text
    for path in sorted(RULES.rglob("*.smk")) + [ROOT / "workflow" / "Snakefile"]:
        for number, text in _snakefile_strings(path):
            yield path, number, text


def test_no_product_name_is_spelled_outside_the_layout_module():
    offending = [
        f"{path.relative_to(ROOT)}:{number}: {text!r} ({literal})"
        for path, number, text in _spellings()
        for literal in PRODUCT_LITERALS
        if literal in text
    ]
    assert not offending, "product names spelled outside wfsspipe/layout.py:\n" + "\n".join(
        offending
    )


def test_the_check_finds_a_spelled_product_name(tmp_path):
    """The grep above can fail: a module that spells a product suffix is found."""
    module = tmp_path / "stage.py"
    module.write_text(
        '"""Writes {field}_visits.ecsv (a docstring may say so)."""\n'
        "def name(field):\n"
        '    return f"{field}_visits.ecsv"\n'
    )
    strings = [text for _, text in _code_strings(module)]
    assert "_visits.ecsv" in strings  # the f-string's constant part, not the docstring
    assert not any("a docstring" in text for text in strings)


def test_layout_paths_are_the_documented_ones():
    out = Layout("FIELDS")
    assert out.uncal("uma-00", "jw1") == "FIELDS/uma-00/UNCAL/jw1_uncal.fits"
    assert out.rate() == "FIELDS/{field}/RATE/{exposure}_rate.fits"
    assert out.visits_table("uma-00") == "FIELDS/uma-00/Prep/uma-00_visits.ecsv"
    assert out.filter_mosaic("uma-00", "f150w") == [
        "FIELDS/uma-00/Mosaic/uma-00-f150w_drz_sci.fits",
        "FIELDS/uma-00/Mosaic/uma-00-f150w_drz_wht.fits",
    ]
    assert out.catalog("uma-00")["rgb"] == "FIELDS/uma-00/Mosaic/uma-00_rgb.png"
    assert out.catalog("uma-00")["detection_catalog"] == "FIELDS/uma-00/Mosaic/uma-00-ir.cat.fits"
    assert out.contam_manifest("uma-00") == "FIELDS/uma-00/Contam/uma-00_contam.ecsv"
    assert out.redshift_results("uma-00") == [
        "FIELDS/uma-00/Redshifts/uma-00_redshifts.fits",
        "FIELDS/uma-00/Redshifts/uma-00_redshifts.csv",
    ]
    assert out.map_index("uma-00") == "FIELDS/uma-00/fitsmap/index.html"
    assert out.log("uma-00", "stage1", "{exposure}") == "FIELDS/uma-00/logs/stage1/{exposure}.log"
    assert out.survey("catalog_fits") == "FIELDS/catalog.fits"
    assert layout.grismflt_name("jw1_rate.fits") == "jw1.01.GrismFLT.fits"
    assert layout.beams_name("uma-00", 7) == "uma-00_00007.beams.fits"
    assert layout.map_index_relpath("uma-00") == "uma-00/fitsmap/index.html"


# --- names: one stage, one name ------------------------------------------------------------------
def _stages() -> list[str]:
    return sorted(p.stem for p in RULES.glob("*.smk") if p.stem != "common")


def _readme_table() -> dict[str, list[str]]:
    """The stage table of tests/README.md: {stage: [rule file, script, module, tests...]}."""
    rows = {}
    text = (ROOT / "tests" / "README.md").read_text()
    section = text.split("## Stages and their files", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and cells[0].startswith("`") and not set(cells[0]) <= {"-"}:
            rows[cells[0].strip("`")] = cells[1:]
    return rows


@pytest.mark.parametrize("stage", _stages())
def test_every_stage_has_its_script_module_and_tests_under_its_name(stage):
    rule_file = RULES / f"{stage}.smk"
    assert re.search(rf"^rule {stage}\b", rule_file.read_text(), re.M) or stage == "summary", (
        f"{rule_file.name} holds no rule named {stage}"
    )
    script = ROOT / "workflow" / "scripts" / f"{stage}.py"
    assert script.is_file(), f"no script {script.relative_to(ROOT)}"
    module = PACKAGE / f"{stage}.py"
    package = PACKAGE / stage / "__init__.py"
    assert module.is_file() or package.is_file(), f"no module wfsspipe.{stage}"
    tests = [p for p in (ROOT / "tests").rglob(f"test_{stage}*.py")]
    assert tests, f"no test file named test_{stage}*.py"
    row = _readme_table().get(stage)
    assert row, f"tests/README.md's stage table has no row for {stage}"
    for path in (rule_file, script, module if module.is_file() else package.parent):
        assert path.name in " ".join(row), f"{stage}'s row does not name {path.name}"
    for test in tests:
        assert test.name in " ".join(row), f"{stage}'s row does not name {test.name}"


def test_every_rule_script_belongs_to_a_stage():
    scripts = {p.stem for p in (ROOT / "workflow" / "scripts").glob("*.py")}
    assert scripts == set(_stages())


def test_the_pipeline_package_does_not_import_the_simulator():
    """wfsssim (resources/simulator) makes the synthetic field; no rule needs it."""
    importing = [
        str(path.relative_to(ROOT))
        for path in sorted(PACKAGE.rglob("*.py")) + sorted((ROOT / "workflow").rglob("*.smk"))
        if re.search(r"^\s*(from|import) wfsssim\b", path.read_text(), re.M)
    ]
    assert not importing
    assert not (PACKAGE / "synthetic").exists()
