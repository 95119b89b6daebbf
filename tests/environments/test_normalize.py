"""Spec -> ResolvedRequirements: conda translation, Azure tables, pip lines, errors, hashing."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from ferry.environments import (
    ResolutionPolicy,
    ResolvedRequirements,
    env_hash,
    normalize_conda,
    normalize_environment,
    normalize_requirements,
)
from ferry.errors import SpecError
from ferry.specs.assets import EnvironmentSpec

EXAMPLES = Path("/work/shared/data/azureml-examples/cli/endpoints")


def conda(*deps: object, pip: list[str] | None = None) -> dict[str, object]:
    entries: list[object] = list(deps)
    if pip is not None:
        entries.append({"pip": pip})
    return {"name": "env", "channels": ["conda-forge"], "dependencies": entries}


# --- conda translation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # conda's `=` is a prefix match whatever the number of components: 1.2.2 and 1.2.2.post1
        ("numpy=1.26.4", "numpy==1.26.4.*"),
        ("scikit-learn=1.2.2", "scikit-learn==1.2.2.*"),
        ("numpy==1.26.4", "numpy==1.26.4"),
        ("numpy=1.26", "numpy==1.26.*"),
        ("numpy=1.26.*", "numpy==1.26.*"),
        ("numpy>=1.2", "numpy>=1.2"),
        ("numpy >=1.2,<2", "numpy<2,>=1.2"),
        ("numpy=1.26.4=py311h64a7726_0", "numpy==1.26.4"),
        ("numpy 1.26.4 py311h64a7726_0", "numpy==1.26.4"),
        ("conda-forge::numpy=1.26.4", "numpy==1.26.4.*"),
        ("pytorch=2.1.0", "torch==2.1.0.*"),
        ("py-xgboost=1.7.6", "xgboost==1.7.6.*"),
        ("pillow", "pillow"),
        ("Scikit_Learn", "scikit-learn"),
    ],
)
def test_conda_specs_become_pip_requirements(spec: str, expected: str) -> None:
    assert normalize_conda(conda("python=3.11", spec)).requirements == (expected,)


@pytest.mark.parametrize(
    "spec",
    [
        "pip",
        "python=3.11",
        "cudatoolkit=11.8",
        "cudnn=8.9",
        "nccl",
        "mkl=2023.1",
        "libgcc-ng",
        "_libgcc_mutex=0.1=conda_forge",
        "_openmp_mutex",
        "ca-certificates",
        "openssl=3.1",
        "gcc_linux-64",
        "cuda-nvcc=12.1",
        "libcublas",
    ],
)
def test_conda_only_packages_are_skipped(spec: str) -> None:
    resolved = normalize_conda(conda("python=3.11", spec, "six"))
    assert resolved.requirements == ("six",)
    if spec.split("=")[0] not in {"pip", "python"}:
        assert any(spec in notice and "conda-only" in notice for notice in resolved.notices)


def test_renames_are_noticed() -> None:
    resolved = normalize_conda(conda("pytorch=2.1", "py-xgboost"))
    assert resolved.requirements == ("torch==2.1.*", "xgboost")
    assert "conda package 'pytorch' is 'torch' on PyPI" in resolved.notices
    assert "conda package 'py-xgboost' is 'xgboost' on PyPI" in resolved.notices


def test_cuda_python_is_a_real_pypi_package() -> None:
    assert normalize_conda(conda("cuda-python=12.3")).requirements == ("cuda-python==12.3.*",)


def test_python_version_comes_from_conda_unless_overridden() -> None:
    assert normalize_conda(conda("python=3.8.5", "six")).python_version == "3.8.5"
    assert normalize_conda(conda("python=3.10.*", "six")).python_version == "3.10"
    assert normalize_conda(conda("six")).python_version is None
    resolved = normalize_conda(conda("python=3.8", "six"), python_version="3.11")
    assert resolved.python_version == "3.11"
    assert "the conda file asks for python=3.8; using 3.11" in resolved.notices


def test_pip_wins_over_conda_for_the_same_package() -> None:
    resolved = normalize_conda(conda("numpy=1.26", "scipy", pip=["numpy==1.26.4", "scipy>=1.11"]))
    assert resolved.requirements == ("numpy==1.26.4", "scipy>=1.11")
    assert "'numpy==1.26.*' (conda) is overridden by 'numpy==1.26.4' (pip)" in resolved.notices


# --- Azure runtime table ------------------------------------------------------------------------


def test_azure_inference_server_is_replaced_by_werkzeug() -> None:
    resolved = normalize_conda(
        conda("python=3.12", pip=["azureml-inference-server-http==1.4.1", "joblib"])
    )
    assert resolved.requirements == ("joblib", "werkzeug")
    assert (
        "dropped 'azureml-inference-server-http==1.4.1': Ferry serves the scoring script itself"
        in resolved.notices
    )
    assert "added 'werkzeug': Ferry's @rawhttp request objects need it" in resolved.notices


def test_werkzeug_the_user_pinned_is_kept() -> None:
    resolved = normalize_conda(conda(pip=["azureml-defaults", "werkzeug==3.0.1"]))
    assert resolved.requirements == ("werkzeug==3.0.1",)


@pytest.mark.parametrize("name", ["azureml-core", "azureml-mlflow", "azureml-telemetry"])
def test_heavy_azure_sdks_are_dropped_without_werkzeug(name: str) -> None:
    resolved = normalize_conda(conda(pip=[f"{name}==1.50.0", "six"]))
    assert resolved.requirements == ("six",)
    assert any(notice.startswith(f"dropped '{name}==1.50.0'") for notice in resolved.notices)


def test_other_azure_packages_are_kept() -> None:
    resolved = normalize_conda(conda(pip=["azureml-dataprep==5.1.0", "azure-storage-blob"]))
    assert resolved.requirements == ("azure-storage-blob", "azureml-dataprep==5.1.0")
    assert resolved.notices == ()


# --- pip lines and files ------------------------------------------------------------------------


def test_pip_lines_are_normalised_and_sorted() -> None:
    resolved = normalize_requirements(
        [
            "# a comment",
            "Tomli >= 2.0 , < 3  # inline comment",
            "",
            "six==1.16.0",
            "foo[B,a] @ https://example.org/foo-1.0-py3-none-any.whl ; python_version>'3'",
            "bar; sys_platform == 'linux'",
            "numpy=1.26.4",
        ]
    )
    assert resolved.requirements == (
        "bar; sys_platform == 'linux'",
        "foo[a,b] @ https://example.org/foo-1.0-py3-none-any.whl ; python_version>'3'",
        "numpy==1.26.4",
        "six==1.16.0",
        "tomli<3,>=2.0",
    )


def test_index_options_are_kept_for_uv() -> None:
    resolved = normalize_conda(
        conda(
            pip=[
                "--extra-index-url https://download.pytorch.org/whl/cpu",
                "--index-url=https://pypi.example.org/simple?token=a=b",
                "--pre",
                "--trusted-host example.org",
                "--prefer-binary",
                "torch",
            ]
        )
    )
    assert resolved.pip_options == (
        "--extra-index-url",
        "https://download.pytorch.org/whl/cpu",
        "--index-url",
        "https://pypi.example.org/simple?token=a=b",
        "--prerelease=allow",
        "--allow-insecure-host",
        "example.org",
    )
    assert any("--prefer-binary" in notice for notice in resolved.notices)


def test_requirements_files_follow_includes(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("six==1.16.0\n")
    (tmp_path / "requirements.txt").write_text("-r base.txt\ntomli==2.0.1\n")
    (tmp_path / "conda.yaml").write_text(
        "dependencies:\n  - python=3.11\n  - pip:\n    - -r requirements.txt\n"
    )
    expected = ("six==1.16.0", "tomli==2.0.1")
    assert normalize_requirements(tmp_path / "requirements.txt").requirements == expected
    assert normalize_conda(tmp_path / "conda.yaml").requirements == expected


def test_heart_classifier_model_files() -> None:
    model = EXAMPLES / "batch/deploy-models/heart-classifier-mlflow/deployment-simple/model"
    resolved = normalize_conda(model / "conda.yaml")
    assert resolved.python_version == "3.8.5"
    assert resolved.requirements == (
        "cloudpickle==1.6.0",
        "mlflow",
        "scikit-learn==1.1.2",
        "xgboost==1.3.3",
    )
    from_txt = normalize_requirements(model / "requirements.txt")
    assert "xgboost==1.4.2" in from_txt.requirements
    assert len(from_txt.requirements) == 15


def test_online_example_conda_file() -> None:
    resolved = normalize_conda(EXAMPLES / "online/model-1/environment/conda.yaml")
    assert resolved.python_version == "3.12"
    assert resolved.requirements == (
        "inference-schema[numpy-support]",
        "joblib",
        "numpy==2.3.1.*",  # conda's "=" is a prefix pin
        "scikit-learn==1.7.0.*",
        "scipy==1.16.0.*",
        "werkzeug",
    )


# --- errors name the field ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "field", "words"),
    [
        ({"name": "x"}, "conda_file.dependencies", "no 'dependencies' list"),
        ({"dependencies": []}, "conda_file.dependencies", "no 'dependencies' list"),
        ({"dependencies": "numpy"}, "conda_file.dependencies", "no 'dependencies' list"),
        ({"dependencies": ["six", {"pop": ["x"]}]}, "conda_file.dependencies[1]", "pip: ["),
        ({"dependencies": ["numpy=1.2|1.3"]}, "conda_file.dependencies[0]", "alternatives"),
        ({"dependencies": [["six"]]}, "conda_file.dependencies[0]", "not a package spec"),
        ({"dependencies": [{"pip": ["six", "==1.0"]}]}, "conda_file.dependencies[0].pip[1]", ""),
        ({"dependencies": [{"pip": ["six ~ 1"]}]}, "conda_file.dependencies[0].pip[0]", "'~ 1'"),
        ({"dependencies": [{"pip": ["-e ./src"]}]}, "conda_file.dependencies[0].pip[0]", "edit"),
        ({"dependencies": [{"pip": ["-r more.txt"]}]}, "conda_file.dependencies[0].pip[0]", "-r"),
    ],
)
def test_bad_conda_content_names_the_field(
    content: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(SpecError) as caught:
        normalize_conda(content)
    assert caught.value.details["field"] == field
    assert field in str(caught.value) or field.startswith("conda_file.dependencies")
    assert words in str(caught.value)


def test_bad_conda_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="does not exist") as missing:
        normalize_conda(tmp_path / "nope.yaml")
    assert missing.value.details["field"] == "conda_file"
    (tmp_path / "bad.yaml").write_text("dependencies: [python=3.11\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        normalize_conda(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- six\n")
    with pytest.raises(SpecError, match="must be a YAML mapping"):
        normalize_conda(tmp_path / "list.yaml")


def test_environment_spec(tmp_path: Path) -> None:
    (tmp_path / "conda.yaml").write_text("dependencies: [python=3.11, six]\n")
    spec = EnvironmentSpec(
        name="e", image="mcr.microsoft.com/azureml/base", conda_file="conda.yaml"
    )
    resolved = normalize_environment(spec, base_dir=tmp_path)
    assert resolved.requirements == ("six",)
    assert resolved.notices[0].startswith("base image 'mcr.microsoft.com/azureml/base' is not used")
    inline = EnvironmentSpec(name="e", conda_file={"dependencies": ["six"]})
    assert normalize_environment(inline).requirements == ("six",)
    with pytest.raises(SpecError, match="has no conda_file") as caught:
        normalize_environment(EnvironmentSpec(name="e", image="ubuntu:22.04"))
    assert caught.value.details["field"] == "conda_file"


# --- hashing ------------------------------------------------------------------------------------


def test_hash_is_stable_across_spelling_order_and_notices() -> None:
    one = normalize_requirements(["six==1.16.0", "tomli==2.0.1"], python_version="3.11")
    two = normalize_requirements(["Tomli == 2.0.1", "SIX==1.16.0"], python_version="3.11")
    three = normalize_conda(
        conda("python=3.11", "six==1.16.0", "cudatoolkit", pip=["tomli==2.0.1"])
    )
    assert one.requirements == two.requirements == three.requirements
    assert three.notices  # cudatoolkit skipped: noticed, but not part of the hash
    assert env_hash(one) == env_hash(two) == env_hash(three)
    # a golden value: a change here invalidates every cached environment, so make it on purpose
    assert env_hash(one) == "9b0307550d030f5608e47ca1"  # schema 2: conda prefix pins, repair


def test_hash_covers_python_options_and_policy() -> None:
    base = ResolvedRequirements(("six==1.16.0",), "3.11")
    variants = [
        ResolvedRequirements(("six==1.16.0",), "3.12"),
        ResolvedRequirements(("six==1.16.0",), None),
        ResolvedRequirements(("six==1.16.0",), "3.11", pip_options=("--index-url", "https://x")),
        ResolvedRequirements(("six==1.17.0",), "3.11"),
    ]
    hashes = {env_hash(base)} | {env_hash(v) for v in variants}
    moment = datetime(2022, 10, 13, tzinfo=timezone.utc)
    hashes |= {
        env_hash(base, ResolutionPolicy(relax_pins=False)),
        env_hash(base, ResolutionPolicy(exclude_newer=moment)),
        env_hash(base, ResolutionPolicy(strict_python=True)),
        env_hash(base, ResolutionPolicy.strict()),
    }
    assert len(hashes) == 9
    assert env_hash(base, ResolutionPolicy()) == env_hash(base)
    naive = ResolutionPolicy(exclude_newer=datetime(2022, 10, 13))
    assert env_hash(base, naive) == env_hash(base, ResolutionPolicy(exclude_newer=moment))


def test_missing_requirements_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read requirements file") as caught:
        normalize_requirements(tmp_path / "requirements.txt")
    assert caught.value.details["field"] == "requirements"
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    assert normalize_requirements(str(tmp_path / "requirements.txt")).requirements == (
        "six==1.16.0",
    )
