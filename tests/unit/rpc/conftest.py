"""TLS files for the rpc tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from shoal.rpc.channels import TlsConfig


@pytest.fixture
def tls_files(tmp_path: Path) -> TlsConfig:
    """A self-signed certificate for 127.0.0.1/localhost, used as server, client and CA cert.

    Made with the openssl command: the `cryptography` package is not a dependency (yet).
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return TlsConfig(cert_file=cert, key_file=key, ca_file=cert)
