"""The conda envs and snakemake.yaml pin the same versions as requirements.txt (the tested stack)."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ENV_FILES = sorted((ROOT / "workflow" / "envs").glob("*.yaml")) + [ROOT / "snakemake.yaml"]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)$")
ESSENTIAL = {
    "jwst.yaml": {"jwst", "columnjump", "crds", "numpy"},
    "grizli.yaml": {"grizli", "jwst", "drizzlepac", "photutils", "numpy", "sep"},
    "fitsmap.yaml": {"fitsmap", "protobuf", "shapely"},
    "snakemake.yaml": {"snakemake", "snakemake-executor-plugin-slurm"},
}


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            match = PIN.match(line)
            assert match, f"requirements.txt: {line!r} is not an exact pin"
            pins[normal(match.group(1))] = match.group(2)
    return pins


def env_pins(path: Path) -> tuple[dict[str, str], list[str], list]:
    spec = yaml.safe_load(path.read_text())
    dependencies = spec["dependencies"]
    pip = next(d["pip"] for d in dependencies if isinstance(d, dict) and "pip" in d)
    pins, options = {}, []
    for line in pip:
        if line.startswith("-"):
            options.append(line)
            continue
        match = PIN.match(line)
        assert match, f"{path.name}: pip entry {line!r} is not an exact pin"
        pins[normal(match.group(1))] = match.group(2)
    return pins, options, dependencies


def test_requirements_pin_everything_the_stack_needs():
    pins = lock()
    for name in ("numpy", "jwst", "grizli", "drizzlepac", "shapely", "snakemake", "fitsmap"):
        assert name in pins
    assert pins["numpy"].startswith("1.")  # grizli preprocessing overflows under numpy 2


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_env_pins_equal_requirements(path):
    pins = lock()
    env, options, dependencies = env_pins(path)
    assert "python=3.11" in dependencies
    drift = {
        name: (version, pins.get(name))
        for name, version in env.items()
        if pins.get(name) != version
    }
    assert not drift, f"{path.name} drifts from requirements.txt (env, requirements): {drift}"
    assert ESSENTIAL[path.name] <= set(env), f"{path.name} lacks {ESSENTIAL[path.name] - set(env)}"
    # The constraint file makes pip resolve transitive dependencies to the tested versions;
    # conda writes pip's requirements beside the env file, so the path is relative to it.
    constraint = [o.split(None, 1)[1] for o in options if o.startswith("-c ")]
    assert (
        len(constraint) == 1
        and (path.parent / constraint[0]).resolve() == ROOT / "requirements.txt"
    )
