"""Integration tests: faults, interrupts, full disks, bad inputs and secrets, against real
Snakemake runs on the synthetic field and the local archive server (see tests/README.md)."""
