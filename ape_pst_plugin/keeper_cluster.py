"""The keeper bot as processes: a Redis server for Silverback's distributed
mode, and a runner with its workers, against a node at a URI. The cluster
tests and ``make bench``'s keeper throughput both start them from here;
README "Beyond one machine" gives the same commands for a real cluster.

Each run gets a project folder of its own whose ``ethereum:local:node`` is
the node (``chain_id`` and ``block_time`` set: ape-node's default chain id,
1337, is not anvil's, and without a block time Silverback's runner polls a
full core)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ape_pst_plugin.exceptions import PstError
from ape_pst_plugin.fork import free_port

BOT = "ape_pst_plugin.bot:bot"
RUNNER = "ape_pst_plugin.bot:KeeperRunner"
NETWORK = "ethereum:local:node"


def wait_for(condition, seconds: float, pause: float = 0.5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(pause)
    return False


@contextmanager
def redis_server(folder: Path):
    """A real ``redis-server`` (Debian's package; ``make`` installs it) on a free loopback
    port, nothing persisted; yields its URL and stops it afterwards."""
    server = shutil.which("redis-server")
    if server is None:
        raise PstError("no redis-server on PATH: `make` installs Debian's package (apt-get install redis-server)")
    port = free_port()
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(command + ["--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with socket.socket() as probe:
            if not wait_for(lambda: probe.connect_ex(("127.0.0.1", port)) == 0, 10, 0.1):
                raise PstError(f"redis-server did not answer on port {port}")
        yield f"redis://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def distributed_env(redis_url: str, lock_seconds: float = 30) -> dict[str, str]:
    """The environment of Silverback's distributed mode on ``redis_url`` and the keeper's locks there."""
    return {
        "PST_REDIS_URL": redis_url,
        "PST_LOCK_SECONDS": str(lock_seconds),
        "SILVERBACK_BROKER_CLASS": "taskiq_redis:ListQueueBroker",
        # redis-py 8 times the workers' blocking queue read out after 5 s unless told not to
        "SILVERBACK_BROKER_KWARGS": json.dumps({"url": redis_url, "socket_timeout": None}),
        "SILVERBACK_RESULT_BACKEND_CLASS": "taskiq_redis:RedisAsyncResultBackend",
        "SILVERBACK_RESULT_BACKEND_KWARGS": json.dumps({"redis_url": redis_url, "result_ex_time": 600}),
    }


@dataclass
class Cluster:
    """A running runner and its workers (``workers[i]`` signs as ``accounts[i]``); logs in ``folder``."""

    folder: Path
    runner: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)

    def logs(self) -> dict[str, str]:
        return {p.name: p.read_text() for p in sorted(self.folder.glob("*.log"))}

    def tails(self, chars: int = 1500) -> str:
        return "\n".join(f"== {name}\n{text[-chars:]}" for name, text in self.logs().items())

    def kill(self, index: int) -> None:
        """A worker dies without a word (SIGKILL to its process group)."""
        os.killpg(self.workers[index].pid, signal.SIGKILL)
        self.workers[index].wait()

    def alive(self) -> bool:
        return self.runner is None or self.runner.poll() is None

    def stop(self) -> None:
        for process in [self.runner, *self.workers]:
            if process is None or process.poll() is not None:
                continue
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:  # the runner may ignore SIGTERM once it watches events
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _project(folder: Path, uri: str, chain_id: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ape-config.yaml").write_text(
        "name: keeper-run\n"
        "node:\n  ethereum:\n    local:\n"
        f"      uri: {uri}\n      chain_id: {chain_id}\n      block_time: 1\n"
    )
    return folder


@contextmanager
def cluster(folder: Path, uri: str, chain_id: int, factory: str, accounts: list[str], redis_url: str | None, **env):
    """Starts the keeper against the node at ``uri`` for ``factory``: with ``redis_url`` one
    worker per alias in ``accounts`` (started first) and a runner, else one ``silverback run``
    signing as ``accounts[0]``. Extra ``env`` (e.g. ``PST_LOCK_SECONDS``) goes to every process."""
    project = _project(folder, uri, chain_id)
    environment = dict(os.environ, PST_FACTORY=factory, **{k: str(v) for k, v in env.items()})
    if redis_url:
        environment |= distributed_env(redis_url, float(env.get("PST_LOCK_SECONDS", 30)))
    silverback = str(Path(sys.executable).with_name("silverback"))
    running = Cluster(folder)

    def start(name, command):
        log = (folder / f"{name}.log").open("w")
        return subprocess.Popen(
            command, cwd=project, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    try:
        if redis_url:
            for i, account in enumerate(accounts):
                command = [silverback, "worker", BOT, "--network", NETWORK, "--account", account, "-w", "1"]
                running.workers.append(start(f"worker{i}", command))
            # the workers listen before the runner sends its first task
            if not wait_for(lambda: all("Loaded Silverback Bot" in t for t in running.logs().values()), 90):
                raise PstError(f"the keeper's workers did not start:\n{running.tails()}")
            time.sleep(2)
            running.runner = start("runner", [silverback, "run", BOT, "--network", NETWORK, "--runner", RUNNER])
        else:
            # --account before --runner: importing the runner imports the bot, which reads its signer then
            command = [silverback, "run", BOT, "--network", NETWORK, "--account", accounts[0], "--runner", RUNNER]
            running.runner = start("runner", command)
        yield running
    finally:
        running.stop()
