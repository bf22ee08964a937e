"""What a local job inherits from the environment of the process that starts it.

An allowlist, not the whole environment: a server's environment holds its own and the
hub's tokens, cloud keys and whatever its admin set; a job is user code and gets only what
running a notebook needs (paths, locale, proxies, CA bundles, thread and GPU settings, the
Python and Jupyter setup). A notebook needing more sets it under ``Environment.Variables``.
"""

from __future__ import annotations

from collections.abc import Mapping

ALLOWED = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR",
    "PYTHONPATH", "PYTHONHOME", "PYTHONUTF8", "PYTHONIOENCODING", "VIRTUAL_ENV",
    "LD_LIBRARY_PATH", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
    "no_proxy", "IPYTHONDIR", "JUPYTER_PATH", "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR",
    "JUPYTER_RUNTIME_DIR", "JUPYTER_PLATFORM_DIRS", "MPLCONFIGDIR", "CUDA_VISIBLE_DEVICES",
    "MLFLOW_ALLOW_FILE_STORE", "MODULEPATH", "MODULESHOME", "LMOD_CMD",
    "SLURM_CONF",  # where Slurm's commands (the slurm site's local transport) find the cluster
})
ALLOWED_PREFIXES = ("LC_", "XDG_", "CONDA_", "OMP_", "MKL_", "OPENBLAS_", "NVIDIA_")


def inherited(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``environ`` a job may see."""
    return {k: v for k, v in environ.items()
            if k in ALLOWED or k.startswith(ALLOWED_PREFIXES)}
