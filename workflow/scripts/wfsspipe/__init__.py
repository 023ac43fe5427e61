"""Library behind the NIRISS WFSS pure-parallel workflow.

The Snakemake rules call thin scripts in ``workflow/scripts``; everything they do lives here so it
can be imported and tested without Snakemake.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
