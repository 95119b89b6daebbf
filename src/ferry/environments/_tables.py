"""The lookup tables that turn a conda/Azure environment into plain PyPI requirements.

They are data, kept apart from the parsing code so they can be read (and extended) at a glance.
Every entry that changes what gets installed produces a notice for the user.
"""

from __future__ import annotations

import re

__all__ = [
    "AZURE_DROPPED",
    "AZURE_NEEDS_WERKZEUG",
    "CONDA_ONLY",
    "CONDA_TO_PYPI",
    "is_conda_only",
]

#: Conda packages with no PyPI counterpart worth installing: the interpreter itself, the
#: installer, and native libraries that PyPI wheels already bundle (BLAS, CUDA runtime, libgcc,
#: OpenSSL, ...). They are skipped with a notice.
CONDA_ONLY: frozenset[str] = frozenset(
    {
        "python",
        "pip",
        "conda",
        "conda-build",
        "mamba",
        # CUDA and GPU runtime: PyPI wheels (torch, cupy, ...) bring their own (nvidia-* wheels)
        "cudatoolkit",
        "cudatoolkit-dev",
        "cudnn",
        "nccl",
        "cutensor",
        "magma",
        "pytorch-cuda",
        "pytorch-mutex",
        "cpuonly",
        # BLAS/LAPACK and OpenMP: numpy/scipy wheels bundle OpenBLAS
        "mkl",
        "mkl-include",
        "mkl-service",
        "mkl_fft",
        "mkl_random",
        "mkl-fft",
        "mkl-random",
        "intel-openmp",
        "llvm-openmp",
        "blas",
        "openblas",
        "libblas",
        "libcblas",
        "liblapack",
        "liblapacke",
        "libopenblas",
        # the C toolchain and system libraries conda ships and a virtualenv borrows from the OS
        "libgcc",
        "libgcc-ng",
        "libstdcxx-ng",
        "libgfortran",
        "libgfortran-ng",
        "libgfortran5",
        "libgomp",
        "ld_impl_linux-64",
        "gcc",
        "gxx",
        "make",
        "ca-certificates",
        "openssl",
        "libffi",
        "ncurses",
        "readline",
        "sqlite",
        "tk",
        "xz",
        "zlib",
        "bzip2",
        "libuuid",
        "libzlib",
        "libnsl",
        "libsqlite",
        "libxcrypt",
        "libexpat",
        "expat",
        "icu",
        "libiconv",
        "libxml2",
        "libedit",
        "libsodium",
        "zeromq",
        "yaml",
        "libjpeg-turbo",
        "jpeg",
        "libpng",
        "libtiff",
        "libwebp",
        "freetype",
        "lcms2",
        "zstd",
        "lz4-c",
        "libcurl",
        "krb5",
        "tzdata",
        "nodejs",
        "git",
    }
)

# Families recognised by shape rather than listed one by one: conda "mutex" metapackages
# (`_libgcc_mutex`, `_openmp_mutex`), compiler activation packages (`gcc_linux-64`) and the
# split CUDA runtime (`cuda-nvcc`, `libcublas`, `libnvjpeg`, ...).
_CONDA_ONLY_PATTERN = re.compile(
    r"^(_.*|.*[-_]linux-64|cuda-(?!python$).*|libcu.*|libnv.*|libnpp.*)$"
)

#: Conda package name -> PyPI project name, where they differ.
CONDA_TO_PYPI: dict[str, str] = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "py-xgboost-gpu": "xgboost",
    "xgboost-cpu": "xgboost",
    "tensorflow-gpu": "tensorflow",
    "tensorflow-cpu": "tensorflow",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "matplotlib-base": "matplotlib",
    "pytables": "tables",
    "msgpack-python": "msgpack",
    "python-graphviz": "graphviz",
    "ruamel_yaml": "ruamel.yaml",
    "pyqt": "pyqt5",
    "py-lightgbm": "lightgbm",
    "lightgbm-cpu": "lightgbm",
    "protobuf3": "protobuf",
    "python-kubernetes": "kubernetes",
}

#: Azure ML packages that Ferry drops, with the reason shown to the user. The first two are the
#: Azure scoring runtime, which Ferry replaces; the others are heavy SDKs a scoring script rarely
#: imports (they pull in hundreds of megabytes and pin old versions of common libraries).
AZURE_DROPPED: dict[str, str] = {
    "azureml-inference-server-http": "Ferry serves the scoring script itself",
    "azureml-defaults": "Ferry serves the scoring script itself",
    "azureml-contrib-services": "Ferry provides rawhttp, AMLRequest and AMLResponse itself",
    "azureml-core": "the Azure ML v1 SDK is not needed to run a scoring script under Ferry",
    "azureml-mlflow": "Ferry does not track runs in Azure ML; MLflow itself is kept",
    "azureml-telemetry": "Ferry sends no telemetry to Azure",
}

#: Dropped packages whose replacement (Ferry's ``@rawhttp`` request object) needs werkzeug in the
#: user's environment.
AZURE_NEEDS_WERKZEUG: frozenset[str] = frozenset(
    {"azureml-inference-server-http", "azureml-defaults", "azureml-contrib-services"}
)


def is_conda_only(name: str) -> bool:
    """Whether a (normalised, lower-case) conda package name has no PyPI counterpart to install."""
    return name in CONDA_ONLY or bool(_CONDA_ONLY_PATTERN.match(name))
