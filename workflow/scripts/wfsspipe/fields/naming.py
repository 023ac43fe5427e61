"""Field names: IAU constellation + two-digit index, stable for ever once given.

A registry (JSON, in the fields folder) remembers every name with the exposures it covered. When
new exposures arrive, a field keeps its name; a new field takes the next index of its
constellation that was never used; a field formed by merging named fields keeps the name of the
oldest and the others become its aliases (retired, never given again).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import write_text

REGISTRY_VERSION = 1


class RegistryError(ValueError):
    """The names registry cannot be read or is inconsistent."""


@dataclass
class Component:
    """One group of exposures, ordered by (t_min, obs_id); the first is the earliest."""

    obs_ids: list[str]
    t_min: list[float]
    ra: float  # centre of the earliest exposure, degrees
    dec: float

    @property
    def first_key(self) -> tuple[float, str]:
        return (self.t_min[0], self.obs_ids[0])


@dataclass
class NamingResult:
    names: list[str]  # one per component
    registry: dict
    new: list[str] = field(default_factory=list)
    merged: dict[str, list[str]] = field(default_factory=dict)  # kept name -> aliases taken in
    split: list[str] = field(default_factory=list)


def empty_registry() -> dict:
    return {"version": REGISTRY_VERSION, "fields": {}, "aliases": {}}


def load_registry(path: Path) -> dict:
    """Read the registry at ``path``; a missing file is an empty registry."""
    if not path.exists():
        return empty_registry()
    try:
        registry = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise RegistryError(f"{path} is not valid JSON ({error}); restore it from backup") from None
    if registry.get("version") != REGISTRY_VERSION or not isinstance(registry.get("fields"), dict):
        raise RegistryError(f"{path} is not a version-{REGISTRY_VERSION} field-name registry")
    registry.setdefault("aliases", {})
    return registry


def save_registry(path: Path, registry: dict) -> None:
    write_text(path, json.dumps(registry, indent=1, sort_keys=True) + "\n")


def constellations(ra_deg, dec_deg) -> list[str]:
    """Lowercase IAU constellation abbreviations (``uma``) at the given positions (astropy's
    ``get_constellation``, computed by :mod:`.constellation` without importing astropy)."""
    from .constellation import constellations as abbreviations

    return [name.lower() for name in abbreviations(ra_deg, dec_deg)]


def format_name(constellation: str, index: int) -> str:
    return f"{constellation}-{index:02d}"


def assign_names(components: list[Component], registry: dict) -> NamingResult:
    """Name every component, keeping the registry's names; return the names and a new registry."""
    fields = registry["fields"]
    aliases = dict(registry["aliases"])
    owner = {obs_id: name for name, entry in fields.items() for obs_id in entry["obs_ids"]}
    result = NamingResult(names=[""] * len(components), registry={})

    # Which registered names does each component hold? A name whose exposures ended up in several
    # components (only if exposures vanished or the separation shrank) stays with the component
    # that holds its first exposure.
    claims: dict[str, list[int]] = defaultdict(list)
    for number, component in enumerate(components):
        for name in {owner[o] for o in component.obs_ids if o in owner}:
            claims[name].append(number)
    held: dict[int, list[str]] = defaultdict(list)
    for name, numbers in claims.items():
        if len(numbers) > 1:
            result.split.append(name)
            first = fields[name]["first_obs_id"]
            keeper = next((n for n in numbers if first in components[n].obs_ids), numbers[0])
            numbers = [keeper]
        held[numbers[0]].append(name)

    used = defaultdict(set)  # every index ever given, alias or not, per constellation
    for name in [*fields, *aliases]:
        constellation, index = name.rsplit("-", 1)
        used[constellation].add(int(index))

    new_fields: dict[str, dict] = {}
    unnamed = []
    for number, component in enumerate(components):
        names = sorted(held.get(number, []), key=lambda n: (fields[n]["first_t_min"], n))
        if not names:
            unnamed.append(number)
            continue
        keep = names[0]
        result.names[number] = keep
        taken_in = names[1:]
        if taken_in:
            result.merged[keep] = taken_in
            for alias in taken_in:
                aliases[alias] = keep
        previous = fields[keep]
        new_fields[keep] = _entry(
            component,
            previous["constellation"],
            previous["aliases"] + taken_in + [a for t in taken_in for a in fields[t]["aliases"]],
        )

    unnamed.sort(key=lambda n: components[n].first_key)
    found = (
        constellations([components[n].ra for n in unnamed], [components[n].dec for n in unnamed])
        if unnamed
        else []
    )
    for number, constellation in zip(unnamed, found):
        index = max(used[constellation], default=-1) + 1
        used[constellation].add(index)
        name = format_name(constellation, index)
        result.names[number] = name
        result.new.append(name)
        new_fields[name] = _entry(components[number], constellation, [])

    # Fields with no exposures in this run keep their entry: their names stay reserved.
    for name, entry in fields.items():
        if name not in new_fields and name not in aliases:
            new_fields[name] = entry
    # An alias of an alias points straight at the surviving name.
    for alias, target in aliases.items():
        while target in aliases:
            target = aliases[target]
        aliases[alias] = target
    result.registry = {"version": REGISTRY_VERSION, "fields": new_fields, "aliases": aliases}
    return result


def _entry(component: Component, constellation: str, aliases: list[str]) -> dict:
    return {
        "constellation": constellation,
        "first_obs_id": component.obs_ids[0],
        "first_t_min": float(component.t_min[0]),
        "ra": float(component.ra),
        "dec": float(component.dec),
        "aliases": sorted(set(aliases)),
        "obs_ids": sorted(component.obs_ids),
    }
