"""supervisord from PyPI, installed into bench/.venv: N programs in one config, XML-RPC on HTTP."""

from __future__ import annotations

import subprocess
import sys
import xmlrpc.client
from pathlib import Path
from typing import Any, cast

from bench.peers import PORT_OFFSET, Peer, PeerSkipped, ServerStatus, require_free_port, server_ids
from bench.procs import run_cli
from bench.timing import POLL_INTERVAL, clock, closed_loop, poll_until

#: The version the reference figures (shared/reference/anchors.md) were taken with.
SUPERVISOR_REQUIREMENT = "supervisor==4.2.5"
HTTP_PORT = 24091 + PORT_OFFSET
VENV = Path(__file__).resolve().parents[1] / ".venv"

_CONFIG = """\
[supervisord]
nodaemon=true
logfile={dir}/supervisord.log
pidfile={dir}/supervisord.pid
childlogdir={dir}/log

[inet_http_server]
port=127.0.0.1:{port}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=http://127.0.0.1:{port}
"""

# startsecs=0: RUNNING as soon as the process is spawned, like Shoal with a startup grace of 0
# (supervisord's default, 1 s, would add a second to every "up" figure).
_PROGRAM = """
[program:{name}]
command=/bin/sleep 1000
autostart=true
autorestart=true
startsecs=0
"""


class SupervisordPeer(Peer):
    column = "supervisord"
    notes = (
        "supervisord: programs with startsecs=0 and autorestart=true, output captured to files "
        "(AUTO); `supervisord -c` is started, then XML-RPC getAllProcessInfo/getProcessInfo is "
        f"polled in-process every {POLL_INTERVAL * 1000:g} ms until RUNNING (it polls: a figure "
        "can be up to one poll late).",
    )

    def __init__(self) -> None:
        super().__init__()
        self._proc: subprocess.Popen[bytes] | None = None
        self._rpc: xmlrpc.client.ServerProxy | None = None

    def install(self) -> None:
        require_free_port(HTTP_PORT)
        if (VENV / "bin" / "supervisord").is_file():
            return
        try:
            if not (VENV / "bin" / "python").is_file():
                subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
            subprocess.run(
                [str(VENV / "bin" / "pip"), "install", "--quiet", SUPERVISOR_REQUIREMENT],
                check=True,
                capture_output=True,
                text=True,
                timeout=300,
            )
        except subprocess.CalledProcessError as exc:
            tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:]
            raise PeerSkipped(f"pip install {SUPERVISOR_REQUIREMENT} failed: {tail}") from exc
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PeerSkipped(f"cannot install {SUPERVISOR_REQUIREMENT}: {exc}") from exc

    def version(self) -> str:
        out = subprocess.run(
            [str(VENV / "bin" / "supervisord"), "--version"], capture_output=True, text=True
        )
        return f"supervisord {out.stdout.strip()}"

    @property
    def _conf(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "supervisord.conf"

    def start(self, n: int) -> float:
        self.n = n
        workdir = self._fresh_workdir()
        (workdir / "log").mkdir()
        text = _CONFIG.format(dir=workdir, port=HTTP_PORT)
        text += "".join(_PROGRAM.format(name=sid) for sid in server_ids(n))
        self._conf.write_text(text)
        self._rpc = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{HTTP_PORT}/RPC2")
        log = (workdir / "supervisord.out").open("wb")
        start = clock()
        self._proc = subprocess.Popen(
            [str(VENV / "bin" / "supervisord"), "-c", str(self._conf)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.ledger.add_root(self._proc.pid)

        def all_running() -> dict[str, int] | None:
            up = self.up_pids()
            return up if len(up) == n else None

        seen, _ = poll_until(all_running, 60 + 0.1 * n, "supervisord: all programs RUNNING")
        return seen - start

    def _all_info(self) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self._api().supervisor.getAllProcessInfo())

    def _api(self) -> xmlrpc.client.ServerProxy:
        assert self._rpc is not None
        return self._rpc

    @property
    def daemon_pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def status(self, server_id: str) -> ServerStatus:
        info = cast(dict[str, Any], self._api().supervisor.getProcessInfo(server_id))
        self.ledger.add(int(info["pid"]))
        return ServerStatus(int(info["pid"]), info["statename"] == "RUNNING")

    def server_pids(self) -> list[int]:
        return [int(i["pid"]) for i in self._all_info() if i["pid"]]

    def up_pids(self) -> dict[str, int]:
        up = {i["name"]: int(i["pid"]) for i in self._all_info() if i["statename"] == "RUNNING"}
        self.ledger.add(*up.values())
        return up

    def state_call_rate(self, server_id: str, seconds: float) -> float:
        proxy = self._api()
        return closed_loop(lambda: proxy.supervisor.getProcessInfo(server_id), seconds)

    def _ctl(self, *words: str) -> list[str]:
        return [str(VENV / "bin" / "supervisorctl"), "-c", str(self._conf), *words]

    def undeploy_argvs(self) -> list[list[str]]:
        # `stop all` stops every program at once (stopAllProcesses), then `remove` drops them
        # from the running config. `update` after removing them from the file would stop one
        # group at a time, each waiting for its process: 48 s for 50 in the reference figures.
        return [self._ctl("stop", "all"), self._ctl("remove", *server_ids(self.n))]

    def restart_everything(self, timeout: float) -> None:
        run_cli(self._ctl("restart", "all"), timeout=timeout)

    def list_argv(self) -> list[str]:
        return self._ctl("status")

    def stop_argv(self) -> list[str]:
        return self._ctl("shutdown")

    def cleanup(self) -> list[int]:
        leftovers = super().cleanup()
        if self._proc is not None:
            self._proc.wait()
        self._proc = self._rpc = None
        return leftovers
