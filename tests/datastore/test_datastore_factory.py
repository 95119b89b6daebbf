"""open_datastore: choosing the adapter, credentials, and errors that name the fix."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ferry.datastore import open_datastore
from ferry.errors import AuthError, InvalidInputError, NotFoundError
from ferry.specs.workspace import DatastoreSpec

from .conftest import S3_CREDENTIALS

WRONG_KEY = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk="


def run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip()


def test_import_stays_light() -> None:
    out = run_python(
        """
        import sys
        import ferry.datastore
        heavy = ("fastapi", "click", "ray", "s3fs", "adlfs", "boto3", "botocore", "azure")
        print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
        """
    )
    assert out == "[]"


def test_missing_optional_packages_say_what_to_install() -> None:
    out = run_python(
        """
        import sys
        sys.modules["s3fs"] = None  # as if not installed: importing it raises ImportError
        sys.modules["adlfs"] = None
        from ferry.datastore import open_datastore
        from ferry.errors import InvalidInputError
        from ferry.specs.workspace import DatastoreSpec
        specs = [
            DatastoreSpec(name="s", type="s3", bucket="b"),
            DatastoreSpec(name="a", type="azure_blob", container_name="c", account_name="acc"),
        ]
        for spec in specs:
            try:
                open_datastore(spec, {})
            except InvalidInputError as exc:
                print(exc.message)
        """
    )
    assert out.splitlines() == [
        "datastore 's' is of type s3, which needs the s3fs package; "
        "install it with pip install 'ferry[s3]'",
        "datastore 'a' is of type azure_blob, which needs the adlfs package; "
        "install it with pip install 'ferry[azure]'",
    ]


def test_unknown_credential_names_are_refused() -> None:
    spec = DatastoreSpec(name="s", type="s3", bucket="b")
    with pytest.raises(InvalidInputError) as err:
        open_datastore(spec, {"access_key": "x"})
    assert err.value.message == (
        "datastore 's': unknown credential(s) access_key for a s3 datastore; "
        "use access_key_id, secret_access_key, session_token"
    )


def test_local_root_is_made_absolute_and_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_datastore(DatastoreSpec(name="l", type="local", root="rel/root"), {})

    assert store.root == (tmp_path / "rel" / "root").as_posix()
    store.check()
    assert (tmp_path / "rel" / "root").is_dir()
    assert store.local_path("a/b") == tmp_path / "rel" / "root" / "a" / "b"


def test_s3_check_and_missing_bucket(s3_spec: DatastoreSpec) -> None:
    open_datastore(s3_spec, S3_CREDENTIALS).check()
    missing = s3_spec.model_copy(update={"bucket": "no-such-bucket"})

    with pytest.raises(NotFoundError) as err:
        open_datastore(missing, S3_CREDENTIALS).check()
    assert err.value.message == (
        "datastore 's3store': the bucket 'no-such-bucket' does not exist; create it or fix the "
        "datastore's bucket/container_name"
    )
    assert S3_CREDENTIALS["secret_access_key"] not in str(err.value)


def test_azure_wrong_key_is_an_auth_error_without_the_key(
    azurite: str, azure_container: str
) -> None:
    good_key = azurite.split("AccountKey=")[1].split(";")[0]
    bad = azurite.replace(good_key, WRONG_KEY)
    spec = DatastoreSpec(
        name="az",
        type="azure_blob",
        account_name="devstoreaccount1",
        container_name=azure_container,
    )
    store = open_datastore(spec, {"connection_string": bad})

    with pytest.raises(AuthError) as err:
        store.check()
    assert err.value.message.startswith(
        "datastore 'az' rejected the credentials while trying to reach '/' ("
    )
    assert err.value.message.endswith(
        "check account_key, sas_token or connection_string and update the datastore"
    )
    assert WRONG_KEY not in str(err.value)
    assert WRONG_KEY not in repr(err.value.details)
    with pytest.raises(AuthError, match="while trying to look up 'x'"):
        store.commit(Path(__file__), "x")


def test_azure_missing_container(azurite: str) -> None:
    spec = DatastoreSpec(
        name="az", type="azure_blob", account_name="devstoreaccount1", container_name="nope"
    )
    with pytest.raises(NotFoundError) as err:
        open_datastore(spec, {"connection_string": azurite}).check()
    assert err.value.message == (
        "datastore 'az': the container 'nope' does not exist; create it or fix the datastore's "
        "bucket/container_name"
    )


def test_azure_endpoint_and_protocol_become_a_connection_string() -> None:
    spec = DatastoreSpec(
        name="az",
        type="azure_blob",
        account_name="acct",
        container_name="c",
        endpoint="core.chinacloudapi.cn",
        protocol="https",
    )
    store = open_datastore(spec, {"account_key": WRONG_KEY})

    assert store.fs.connection_string == (
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={WRONG_KEY};"
        "EndpointSuffix=core.chinacloudapi.cn"
    )
    assert WRONG_KEY not in repr(store)


def test_azure_account_name_the_client_refuses_is_a_clear_400() -> None:
    # adlfs raises ValueError for an account name it cannot use; that was a 500 at the server.
    spec = DatastoreSpec(name="az", type="azure_blob", account_name="ab/cd", container_name="c")

    with pytest.raises(InvalidInputError) as err:
        open_datastore(spec, {"account_key": WRONG_KEY})

    assert err.value.message.startswith(
        "datastore 'az': the Azure Blob client refused its settings ("
    )
    assert err.value.message.endswith(
        "check account_name (3-24 lowercase letters and digits), endpoint and the credential"
    )
    assert WRONG_KEY not in err.value.message
