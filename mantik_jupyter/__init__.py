"""mantik-jupyter: run notebooks as tracked jobs on HPC sites from Jupyter.

Importing the package is cheap on purpose: MLflow, papermill and the gateway clients are
imported only by the code paths that use them.
"""

__version__ = "0.1.0"
