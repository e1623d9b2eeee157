"""A whole grid on ssl endpoints: the registry's client and internal endpoints and the node's
all TLS, driven by the CLI. The daemons and the CLI import asyncio without OpenSSL and give it
back when an ssl endpoint needs it (shoal.lean): this is where that is exercised for real."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gridsupport import Site, sleeper


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (server, client and CA at once), made with the
    openssl command: the `cryptography` package is not a dependency."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def use_tls(site: Site) -> None:
    """Every endpoint of the site's master and of its admin tools becomes ssl."""
    cert, key = make_certificate(site.prefix / "etc")
    settings = f"\nIceSSL.CertFile={cert}\nIceSSL.KeyFile={key}\nIceSSL.CAs={cert}\n"
    for name in ("master.cfg", "internal.cfg"):
        path = site.prefix / "etc" / name
        path.write_text(path.read_text().replace("tcp -h", "ssl -h") + settings)


def test_a_grid_on_ssl_endpoints_starts_answers_and_stops(site: Site) -> None:
    use_tls(site)
    descriptor = site.descriptor("tls.xml", sleeper("S1"))
    started = site.shoal("admin", "start", str(descriptor))
    assert started.returncode == 0, started.stderr

    listed = site.shoal("admin", "ice", "server", "list")
    assert (listed.returncode, listed.stdout.split()) == (0, ["S1"]), listed.stderr
    state = site.shoal("admin", "ice", "server", "state", "S1")
    assert state.returncode == 0, state.stderr
    assert state.stdout.startswith("active"), state.stdout

    stopped = site.shoal("admin", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "the grid is stopped" in stopped.stdout
    errors = (site.prefix / "var" / "log" / "master.err").read_text()
    assert "Traceback" not in errors, errors


def test_a_plain_tcp_client_is_refused_by_an_ssl_registry(site: Site) -> None:
    use_tls(site)
    started = site.shoal("admin", "start", str(site.descriptor("tls.xml", sleeper("S1"))))
    assert started.returncode == 0, started.stderr
    try:
        internal = site.prefix / "etc" / "internal.cfg"
        internal.write_text(internal.read_text().replace("ssl -h", "tcp -h"))
        refused = site.shoal("admin", "ice", "server", "list")
        assert refused.returncode != 0
        assert "Traceback" not in refused.stderr, refused.stderr
        assert refused.stderr.startswith("shoal: "), refused.stderr
    finally:
        internal.write_text(internal.read_text().replace("tcp -h", "ssl -h"))
        assert site.shoal("admin", "stop").returncode == 0
