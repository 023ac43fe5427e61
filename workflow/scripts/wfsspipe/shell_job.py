"""The job of a per-exposure rule that runs its script as a program (a ``shell:`` rule).

download and stage1 run once per exposure: about 13,600 jobs over the surveys' 6,800 exposures.
For every ``script:`` job, Snakemake looks up and reads the script's source while it builds the
DAG, at every start and for dry runs too (about 4 s of a 21 s dry run over 6,800 exposures:
bench/RESULTS.md). So these two rules are ``shell:`` rules whose command line calls the script,
and :func:`parse_job` gives the script what ``script:`` would have: a job with ``rule``,
``wildcards``, ``input``, ``output``, ``log``, ``threads`` and ``params``.

The command line carries only what Snakemake constrains or makes: the wildcards (checked here
against the layout's patterns), paths, the thread count, and the rule's params as JSON
(:class:`JsonParam`, e.g. ``--param settings={params.settings:q}``); it starts with the rule's
:class:`Program` (``{params.program}``). Text from the fields table never does: a script that
needs a table value reads the table itself.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from wfsspipe.layout import EXPOSURE_PATTERN, FIELD_PATTERN

WILDCARD_PATTERNS = {"field": FIELD_PATTERN, "exposure": EXPOSURE_PATTERN}


def job_python(deployment_methods: Iterable[Any], executable: str) -> str:
    """The Python a rule's Program runs: ``python`` of the job's environment under Snakemake's
    ``--sdm conda`` or ``apptainer`` (as a ``script:`` job would), else ``executable`` (the
    one running Snakemake). The rules name no env modules, so ``--sdm env-modules`` alone
    leaves ``executable``, as it does for ``script:``."""
    names = {getattr(method, "name", str(method)).upper() for method in deployment_methods}
    return "python" if names & {"CONDA", "APPTAINER"} else executable


class JsonParam(dict):
    """A dict param that a command line shows as JSON (``{params.settings:q}``). Snakemake
    records a param's repr, this dict's, to rerun jobs when it changes."""

    def __format__(self, spec: str) -> str:
        return format(json.dumps(self, sort_keys=True), spec)


class Program:
    """The start of a rule's command line: a Python, a script and options that say where, not
    what (``--table``, the archive's address), shell-quoted when formatted (``{params.program}``).

    Not a builtin type, so Snakemake's params trigger leaves it out: another Python, a moved
    checkout or a new archive address reruns no download or Stage 1 job (a dict or string param
    would rerun every exposure). ``words`` are joined with ``shlex.join``; JSON options come from ``json_options``.
    """

    def __init__(self, python: str, script: str | Path, *options: str, **json_options: Any):
        self.words = [str(python), str(script), *map(str, options)]
        for name, value in json_options.items():
            self.words += ["--param", f"{name}={json.dumps(value, sort_keys=True)}"]

    def __format__(self, spec: str) -> str:
        return format(shlex.join(self.words), spec)

    def __repr__(self) -> str:
        return f"Program({shlex.join(self.words)!r})"


class ShellJobError(ValueError):
    """A command line that no rule of the workflow writes."""


class Wildcards(dict):
    """``{name: value}`` that also reads as attributes (``wildcards.field``), like Snakemake's."""

    def __getattr__(self, name: str) -> str:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class ShellJob:
    rule: str
    wildcards: Wildcards
    input: list[str]
    output: list[str]
    log: list[str]
    threads: int = 1
    params: SimpleNamespace = field(default_factory=SimpleNamespace)
    table: str | None = None


def _parser(rule: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{rule}.py",
        description=f"One job of rule {rule} (the rule's shell: command line writes these).",
    )
    for name in WILDCARD_PATTERNS:
        parser.add_argument(f"--{name}", help=f"the {{{name}}} wildcard")
    parser.add_argument("--input", action="append", default=[], metavar="PATH")
    parser.add_argument("--output", action="append", default=[], metavar="PATH", required=True)
    parser.add_argument("--log", required=True, metavar="PATH")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--table", metavar="CSV", help="the fields table (for a job's row)")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="a parameter of the rule, as JSON",
    )
    return parser


def _json(rule: str, name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise ShellJobError(
            f"rule {rule}: parameter {name} is not JSON ({error}): {text[:200]!r}"
        ) from None


def parse_job(argv: list[str], rule: str) -> ShellJob:
    """The job that ``argv`` (the rule's command line after the script) describes; a command
    line that no rule writes ends the program with its usage and what was wrong (status 2)."""
    parser = _parser(rule)
    args = parser.parse_args(argv)
    try:
        return _job(rule, args)
    except ShellJobError as error:
        parser.error(str(error))


def _job(rule: str, args: argparse.Namespace) -> ShellJob:
    wildcards = Wildcards()
    for name, pattern in WILDCARD_PATTERNS.items():
        value = getattr(args, name)
        if value is None:
            continue
        if not re.fullmatch(pattern, value):
            raise ShellJobError(f"rule {rule}: {name} {value!r} does not match {pattern}")
        wildcards[name] = value
    params = SimpleNamespace()
    for item in args.param:
        name, sep, text = item.partition("=")
        if not sep or not name.isidentifier():
            raise ShellJobError(f"rule {rule}: --param wants NAME=JSON, got {item[:80]!r}")
        setattr(params, name, _json(rule, name, text))
    return ShellJob(
        rule=rule,
        wildcards=wildcards,
        input=list(args.input),
        output=list(args.output),
        log=[args.log],
        threads=args.threads,
        params=params,
        table=args.table,
    )
