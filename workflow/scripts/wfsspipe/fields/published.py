"""Field names published by a survey team (NISPureParallel's ``resources/names.yaml``).

That file maps a key to a field name. The key is the MAST JWST-mission ``obs_id`` of the field's
earliest observation (NISPureParallel's computeFields.py: ``names[str(r['obs_id'])]`` for the first
row of a field sorted by ``date_obs``), a visit-level identifier::

    V 01243 004 001 P 01571 097 03 2 01
      prime program, observation, visit; P; parallel program, observation; visit group,
      parallel sequence, activity

For a prime observation the parallel part is zeros and the exposures are
``jw{program}{obs}{visit}_{group}{sequence}{activity}_*_nis``. For a pure parallel they are
``jw{parallel program}{parallel obs}{any visit}_{group}{sequence}{activity}_*_nis``: the key does
not carry the parallel visit number, so every visit of that parallel observation with that
activity matches.

Seeding puts each published name into the registry as a reserved entry holding its key; every
run then gives it the exposures that match, so the field that contains them keeps the name.
Conflicts (a name the registry already gives to other exposures, exposures a registered field
already owns) are errors; nothing is resolved silently.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..layout import FIELD_RE
from .naming import RegistryError

KEY_RE = re.compile(
    r"^V(?P<program>\d{5})(?P<obs>\d{3})(?P<visit>\d{3})"
    r"P(?P<par_program>\d{5})(?P<par_obs>\d{3})(?P<activity>\d{3}[0-9a-z]{2})$",
    re.IGNORECASE,
)
EXPOSURE_PARTS = re.compile(r"^jw(\d{5})(\d{3})(\d{3})_(\d{3}[0-9a-z]{2})_\d{5}_nis$")


def read_names(path: Path) -> dict[str, str]:
    """key -> name from a names file (YAML mapping), checked."""
    import yaml

    try:
        names = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise RegistryError(f"names file {path} does not exist") from None
    except yaml.YAMLError as error:
        raise RegistryError(f"names file {path} is not valid YAML: {error}") from None
    if not isinstance(names, dict):
        raise RegistryError(f"names file {path} must map keys to names (key: name per line)")
    problems, seen = [], {}
    for key, name in names.items():
        key, name = str(key).strip(), str(name).strip()
        if not KEY_RE.match(key):
            problems.append(f"{key!r} is not a MAST visit key like V01243004001P0157109703201")
        if not FIELD_RE.match(name):
            problems.append(f"{name!r} (for {key}) is not a field name like leo-00")
        if name in seen:
            problems.append(f"{name} is given to both {seen[name]} and {key}")
        seen[name] = key
    if problems:
        raise RegistryError(f"names file {path}: " + "; ".join(problems[:5]))
    return {str(k).strip(): str(v).strip() for k, v in names.items()}


def matcher(key: str) -> tuple[str, str, str | None, str]:
    """(program, observation, visit or None for any, activity) of the exposures of a key."""
    parts = KEY_RE.match(key)
    if int(parts["par_program"]):
        return (parts["par_program"], parts["par_obs"], None, parts["activity"].lower())
    return (parts["program"], parts["obs"], parts["visit"], parts["activity"].lower())


def seed(registry: dict, names: dict[str, str], source: str) -> dict:
    """The registry with every published name reserved (entry with its key, no exposures yet)."""
    fields = dict(registry["fields"])
    conflicts = []
    taken = {**{n: n for n in fields}, **registry.get("aliases", {})}
    for key, name in names.items():
        entry = fields.get(name)
        if entry is not None and entry.get("published_key") == key:
            continue  # seeded before
        if name in taken:
            conflicts.append(f"{name} (for {key}) is already a field or alias in the registry")
            continue
        fields[name] = {
            "constellation": name.rsplit("-", 1)[0],
            "published_key": key,
            "first_obs_id": "",
            "first_t_min": None,
            "ra": None,
            "dec": None,
            "aliases": [],
            "obs_ids": [],
        }
    if conflicts:
        raise RegistryError(
            f"{source} conflicts with the names registry: "
            + "; ".join(conflicts[:10])
            + ". Remove those lines from the names file, or start from an empty registry."
        )
    return {**registry, "fields": fields}


def resolve(registry: dict, exposures) -> tuple[dict, list[str]]:
    """Give every reserved published name the exposures of ``exposures`` its key matches.

    Returns the registry and the names now matched. Raises :class:`RegistryError` when matched
    exposures already belong to another registered field.
    """
    pending = {
        name: matcher(entry["published_key"])
        for name, entry in registry["fields"].items()
        if entry.get("published_key") and not entry["obs_ids"]
    }
    if not pending:
        return registry, []
    owner = {o: n for n, e in registry["fields"].items() for o in e["obs_ids"]}
    wanted: dict[tuple, str] = {}
    for name, (program, obs, visit, activity) in pending.items():
        wanted[(program, obs, visit, activity)] = name
    matched: dict[str, list[int]] = {}
    for index, obs_id in enumerate(exposures["obs_id"]):
        parts = EXPOSURE_PARTS.match(obs_id)
        if not parts:
            continue
        program, obs, visit, activity = parts.groups()
        name = wanted.get((program, obs, visit, activity)) or wanted.get(
            (program, obs, None, activity)
        )
        if name:
            matched.setdefault(name, []).append(index)
    fields = dict(registry["fields"])
    conflicts = []
    for name, indices in matched.items():
        members = exposures.iloc[indices].sort_values(["t_min", "obs_id"], kind="stable")
        owned = {owner[o] for o in members["obs_id"] if o in owner}
        if owned:
            conflicts.append(f"{name}'s exposures already belong to {', '.join(sorted(owned))}")
            continue
        first = members.iloc[0]
        fields[name] = {
            **fields[name],
            "first_obs_id": first["obs_id"],
            "first_t_min": float(first["t_min"]),
            "ra": float(first["s_ra"]),
            "dec": float(first["s_dec"]),
            "obs_ids": sorted(members["obs_id"]),
        }
    if conflicts:
        raise RegistryError(
            "published names conflict with the registry: "
            + "; ".join(conflicts[:10])
            + ". Decide which name the field keeps and edit the names file or the registry."
        )
    return {**registry, "fields": fields}, sorted(matched)
