#!/usr/bin/env python
"""Redshift recovery over several synthetic fields: completeness, and purity of "good" (issue 19).

    .venv/bin/python bench/zfit_recovery.py --output DIR [--seeds 1 2 3 4 5] [--ngroups 8]
        [--cores 2] [--dz COARSE FINE] [--coincident-dchi2 0 25 50 100] [--no-photometry]
        [--table OUT.ecsv]

For each seed, ``resources/scripts/demo.py`` builds (unless DIR/seed{N} already has it) a field
of three filters, F115W, F150W and F200W, each with its direct image and both grisms at one
orient, through the redshift fits and the injected-against-measured table. Then, per seed:

* **Line S/N at the true redshift** of each injected emitter matched to a fitted source: grizli's
  template fit at z_true (``MultiBeam.template_at_z`` with zfit's final templates, free lines +
  FSPS, on the source's beams file, set up as ``run_all`` sets it up); the emitter *has a line*
  when one reaches S/N > 10 there.
* **Grism-only fits** are the build's own when they were made with the redshift grid asked for
  (``--dz``, by default ``zfit.dz`` of config/config.yaml); otherwise ``wfsspipe.zfit.fit_field``
  fits the field again with that grid into DIR/seed{N}/Redshifts-dz{COARSE} (kept; reused when
  its grid matches).
* **Fits with photometry**: ``wfsspipe.zfit.fit_field`` again with ``zfit.photometry.use`` on
  (the field's F115W, F150W and F200W catalogue fluxes and the synthetic throughputs the
  magnitudes were made with), into DIR/seed{N}/Redshifts-phot-dz{COARSE} (kept likewise).
* **Flags** re-assessed from each set of fit products (``wfsspipe.zfit.results_table``) with
  the build's quality settings but each ``--coincident-dchi2`` value in turn (0 turns the
  coincident-lines rule off), and "flag before": neither that rule nor the z-range-edge rule
  (the flag before issue 19).
* **Completeness** = emitters with a line whose redshift is right (|dz|/(1+z) < 0.005) and
  flagged good, over emitters with a line; **purity of good** = right over flagged good, for
  every fitted source (a good fit matched to no injected object, or to a star, is wrong).

Prints one line per seed and variant and the totals; ``--table`` writes every emitter's row
(seed, ids, z_true, line S/N at z_true, fitted z, z_alt, dchi2, flag per variant).
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml
from astropy.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
sys.path.insert(0, str(ROOT / "resources" / "simulator"))  # wfsssim: the synthetic throughputs

from wfsspipe import zfit  # noqa: E402
from wfsspipe.grizli_env import GrizliSettings, grizli_session  # noqa: E402
from wfsspipe.summary.plots import MATCH_DZ, match_truth  # noqa: E402

FIELD = "sex-00"
DETECTED_SN = 10.0  # "an emitter with a line at S/N > 10 at the true z" (issue 19)
FIELD_OPTIONS = ["--filters", "F115W", "F150W", "F200W", "--no-direct", "--revisit"]


def build(folder: Path, seed: int, ngroups: int, cores: int) -> None:
    """The seed's field through the truth table (demo.py; Snakemake skips what is done)."""
    target = folder / "FIELDS" / "summary" / "z_truth.ecsv"
    if target.is_file():
        return
    command = [sys.executable, ROOT / "resources" / "scripts" / "demo.py", "--output", folder,
               "--cores", cores, *FIELD_OPTIONS, "--ngroups", ngroups, "--seed", seed, target]  # fmt: skip
    log = folder.with_suffix(".log")
    print(f"seed {seed}: building {folder} (log {log})", flush=True)
    folder.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as handle:
        subprocess.run([str(c) for c in command], check=True, stdout=handle, stderr=handle)


def workflow_config(folder: Path) -> dict:
    """config/config.yaml updated by the build's own config (as Snakemake merges them)."""

    def merge(base: dict, update: dict) -> dict:
        for key, value in update.items():
            base[key] = merge(base.get(key, {}), value) if isinstance(value, dict) else value
        return base

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    return merge(config, yaml.safe_load((folder / "config.yaml").read_text()))


def line_sn_at_truth(folder: Path, emitters: Table, config: dict) -> dict[int, float]:
    """Best line S/N of each matched emitter (fitted source id -> S/N) at its true redshift."""
    from grizli.multifit import MultiBeam

    settings = zfit.ZfitSettings.from_config(config["zfit"])
    extractions = folder / "FIELDS" / FIELD / "Extractions"
    best = {}
    grizli = GrizliSettings.from_config(config)
    with tempfile.TemporaryDirectory() as work, grizli_session(work, grizli, Path(work) / "log"):
        _, final = zfit.load_templates(settings)
        for row in emitters:
            beams = extractions / f"{FIELD}_{int(row['id']):05d}.beams.fits"
            if not beams.is_file():
                continue
            # run_all's defaults (fcontam 0.2, sys_err 0.03, min_mask 0.01, min_sens 0.02)
            mb = MultiBeam(str(beams), fcontam=0.2, sys_err=0.03, min_mask=0.01,
                           min_sens=0.02, group_name=FIELD, verbose=False)  # fmt: skip
            fit = mb.template_at_z(z=float(row["z_true"]), templates=final, fitter="nnls",
                                   fit_background=True, get_uncertainties=2)  # fmt: skip
            sn = [c / e for name, (c, e) in fit["cfit"].items()
                  if name.startswith("line ") and e > 0]  # fmt: skip
            best[int(row["id"])] = max(sn, default=0.0)
    return best


def fitted_with(redshifts: Path, dz: tuple[float, float]) -> bool:
    """Whether ``redshifts`` holds a finished fit of the field made with the grid ``dz``."""
    table = redshifts / f"{FIELD}_redshifts.fits"
    return table.is_file() and tuple(Table.read(table).meta.get("DZ", ())) == dz


def grism_fits(folder: Path, config: dict, dz: tuple[float, float], cores: int) -> Path:
    """The folder of the field's grism-only fits made with the grid ``dz``: the build's own, or
    a refit (kept beside the build)."""
    built = folder / "FIELDS" / FIELD / "Redshifts"
    if fitted_with(built, dz):
        return built
    base = zfit.ZfitSettings.from_config(config["zfit"])
    return refit(folder, config, dataclasses.replace(base, dz=dz), f"Redshifts-dz{dz[0]:g}", cores)


def photometry_fits(folder: Path, config: dict, dz: tuple[float, float], cores: int) -> Path:
    """The folder of the field's grism + photometry fits made with the grid ``dz``."""
    from wfsssim import grismconf

    filters = config["zfit"]["photometry"]["filters"] or grismconf.write_throughputs(
        folder / "synthetic" / "filters"
    )
    base = zfit.ZfitSettings.from_config(config["zfit"])
    settings = dataclasses.replace(base, dz=dz, photometry=True,
                                   phot_filters=tuple(sorted(filters.items())))  # fmt: skip
    return refit(folder, config, settings, f"Redshifts-phot-dz{dz[0]:g}", cores)


def refit(folder: Path, config: dict, settings: zfit.ZfitSettings, name: str, cores: int) -> Path:
    """The field's extracted sources fitted again with ``settings`` into ``folder/name`` (reused
    when it already holds a fit with the same grid)."""
    out = folder / name
    if fitted_with(out, settings.dz):
        return out
    products = folder / "FIELDS" / FIELD
    print(f"{folder.name}: fitting into {out}", flush=True)
    zfit.fit_field(
        FIELD, products / "Extractions" / f"{FIELD}_extract.ecsv", out, settings,
        GrizliSettings.from_config(config),
        phot_catalog=products / "Mosaic" / f"{FIELD}_phot.fits" if settings.photometry else None,
        threads=cores, log_path=folder / f"zfit-{name}.log",
    )  # fmt: skip
    return out


def reassess(folder: Path, settings: zfit.ZfitSettings, redshifts: Path) -> Table:
    """The results table rebuilt from the fit products in ``redshifts`` with other quality
    settings."""
    built = Table.read(redshifts / f"{FIELD}_redshifts.fits")
    extract = Table.read(folder / "FIELDS" / FIELD / "Extractions" / f"{FIELD}_extract.ecsv")
    chosen = extract[extract["status"] == "extracted"]
    rows = {int(r["id"]): {"id": int(r["id"]), "status": str(r["status"]),
                           "reason": str(r["reason"]), "seconds": float(r["seconds"])}
            for r in built}  # fmt: skip
    table = zfit.results_table(FIELD, chosen, rows, redshifts, settings)
    table["field"] = FIELD
    table.meta["GRISM_FILTERS"] = "F115W,F150W,F200W"
    return table


def score(truth: Table, fits: Table, line_sn: dict[int, float]) -> tuple[dict, Table]:
    """Counts for one seed and variant, and the emitters' rows."""
    matched = match_truth(fits, truth)
    right_ids = set()
    for row in matched:
        if row["id"] >= 0 and row["kind"] != "star" and abs(row["dz"]) < MATCH_DZ:
            right_ids.add(int(row["id"]))
    good = fits[fits["quality"] == 2]
    emitters = matched[matched["kind"] == "emitter"]
    with_line = [r for r in emitters if line_sn.get(int(r["id"]), 0.0) > DETECTED_SN]
    counts = {
        "emitters": len(emitters),
        "with_line": len(with_line),
        "recovered": sum(1 for r in with_line if int(r["id"]) in right_ids and r["quality"] == 2),
        "good": len(good),
        "good_right": sum(1 for r in good if int(r["id"]) in right_ids),
    }
    return counts, emitters


def rate(numerator: int, denominator: int) -> str:
    return f"{numerator}/{denominator} = {numerator / denominator:.0%}" if denominator else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--ngroups", type=int, default=8)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--dz", type=float, nargs=2, metavar=("COARSE", "FINE"),
                        help="the redshift grid's steps (default: zfit.dz of the config)")  # fmt: skip
    parser.add_argument(
        "--coincident-dchi2", type=float, nargs="+", default=[0.0, 25.0, 50.0, 100.0]
    )
    parser.add_argument("--no-photometry", action="store_true", help="grism-only fits only")
    parser.add_argument("--table", type=Path, help="write every emitter's row here (ECSV)")
    args = parser.parse_args()

    totals: dict[str, dict[str, int]] = {}
    rows = []
    for seed in args.seeds:
        folder = args.output.resolve() / f"seed{seed}"
        build(folder, seed, args.ngroups, args.cores)
        config = workflow_config(folder)
        truth = Table.read(folder / "synthetic" / "truth.ecsv")
        base = zfit.ZfitSettings.from_config(config["zfit"])
        dz = tuple(args.dz) if args.dz else base.dz
        base = dataclasses.replace(base, dz=dz)
        fitted = {"grism": grism_fits(folder, config, dz, args.cores)}
        if not args.no_photometry:
            fitted["grism+phot"] = photometry_fits(folder, config, dz, args.cores)
        # The flag before issue 19's rules: no coincident-lines rule, and a z_range wider than
        # the one searched so that no fit is at its edge (the range only enters the flag there).
        before = dataclasses.replace(base, coincident_dchi2=0.0, z_range=(-1.0, 99.0))
        variants = {"grism flag before": (before, fitted["grism"])} | {
            f"{kind} coincident_dchi2={v:g}": (dataclasses.replace(base, coincident_dchi2=v), path)
            for kind, path in fitted.items()
            for v in args.coincident_dchi2
        }
        line_sn = None
        for name, (settings, path) in variants.items():
            fits = reassess(folder, settings, path)
            if line_sn is None:
                line_sn = line_sn_at_truth(folder, match_truth(fits, truth), config)
            counts, emitters = score(truth, fits, line_sn)
            total = totals.setdefault(name, dict.fromkeys(counts, 0))
            for key, value in counts.items():
                total[key] += value
            print(f"seed {seed} {name:>33}: completeness "
                  f"{rate(counts['recovered'], counts['with_line'])}, purity of good "
                  f"{rate(counts['good_right'], counts['good'])} "
                  f"({counts['emitters']} emitters)", flush=True)  # fmt: skip
            by_id = {int(r["id"]): r for r in fits}
            for row in emitters:
                source = by_id.get(int(row["id"]))
                rows.append({
                    "seed": seed, "variant": name, "truth_id": int(row["truth_id"]),
                    "id": int(row["id"]), "z_true": float(row["z_true"]),
                    "line_sn_true": float(line_sn.get(int(row["id"]), np.nan)),
                    "z": float(row["z"]), "dz": float(row["dz"]),
                    "nlines": int(source["nlines"]) if source is not None else -1,
                    "z_alt": float(source["z_alt"]) if source is not None else np.nan,
                    "dchi2_alt": float(source["dchi2_alt"]) if source is not None else np.nan,
                    "flag": str(row["flag"]),
                    "flag_reason": str(source["flag_reason"]) if source is not None else "",
                })  # fmt: skip
    print(f"\nall seeds ({', '.join(map(str, args.seeds))}), zfit.dz {list(dz)}:")
    for name, total in totals.items():
        print(f"{name:>33}: completeness {rate(total['recovered'], total['with_line'])}, "
              f"purity of good {rate(total['good_right'], total['good'])} "
              f"({total['emitters']} emitters, {total['with_line']} with a line at "
              f"S/N > {DETECTED_SN:g} at the true z)")  # fmt: skip
    if args.table:
        Table(rows=rows).write(args.table, format="ascii.ecsv", overwrite=True)
        print(f"emitters: {args.table}")


if __name__ == "__main__":
    main()
