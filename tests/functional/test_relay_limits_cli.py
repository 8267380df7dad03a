"""``pairup relay`` as an operator meets it: its limits in ``--help`` and as ``--limit``, a
damaged store refused in one line, and a flood of idle connections against a process whose
file limit is small (256) that leaves participants served and the log a few lines long."""

import asyncio
import contextlib
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

from websockets.asyncio.client import connect

from pairup import protocol as wire
from pairup.relay.limits import Limits
from pairup.relay.store import Store

from ..integration.relaykit import hello_text, new_session, next_frame
from .conftest import PAIRUP, Run

FILE_LIMIT = 256


def test_every_limit_is_in_the_help_with_its_default(pairup: Run) -> None:
    shown = pairup("relay", "--help").stdout
    for name in Limits.__dataclass_fields__:
        assert re.search(rf"^  {name} \[[0-9.]+\]$", shown, re.MULTILINE), name
    assert "  pending_per_ip [8]\n" in shown


def test_a_limit_that_does_not_exist_is_one_line(pairup: Run) -> None:
    refused = pairup("relay", "--limit", "pending_per_address=4")
    assert refused.returncode != 0
    assert refused.stderr == (
        "pairup: --limit 'pending_per_address=4': no limit is called pending_per_address; "
        "did you mean pending_per_ip? pairup relay --help lists them\n"
    )


def test_a_damaged_store_is_one_line_and_no_traceback(pairup: Run, tmp_path: Path) -> None:
    path = tmp_path / "relay-data" / "relay.sqlite3"
    with Store.open(path) as store:
        store.create_session("session-a", b"v" * 32, created_at=1.0, max_participants=8)
    path.write_bytes(path.read_bytes()[:1000])

    refused = pairup("relay", "--port", "0", "--data-dir", str(path.parent))
    assert refused.returncode != 0
    (line,) = refused.stderr.splitlines()
    assert line.startswith(f"pairup: cannot use the relay's data: {path} is damaged (")
    assert "move it and its -wal and -shm files aside" in line


@contextlib.contextmanager
def relay_process(
    env: dict[str, str], data_dir: Path, *limits: str
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``pairup relay`` on a free loopback port with a file limit of 256, hard and soft (the
    shell's ``ulimit -n`` sets both), so the relay cannot raise it."""
    command = ["sh", "-c", f'ulimit -n {FILE_LIMIT} && exec "$0" "$@"', str(PAIRUP), "relay"]
    command += ["--host", "127.0.0.1", "--port", "0", "--data-dir", str(data_dir)]
    command += [f"--limit={limit}" for limit in limits]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        listening = re.search(r"listening on (ws://\S+) ", process.stdout.readline())
        assert listening, "the relay did not start"
        yield listening.group(1), process
    finally:
        process.terminate()
        process.wait(timeout=30)


async def flood(url: str, sources: list[str], each: int) -> list[asyncio.StreamWriter]:
    """Idle TCP connections to the relay, ``each`` from every one of ``sources``."""
    host, port = url.removeprefix("ws://").split(":")
    writers = []
    for source in sources:
        for _ in range(each):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection(host, int(port), local_addr=(source, 0))
                writers.append(writer)
    return writers


async def join(url: str, session: str, secret: bytes, participant: str, create: bool) -> None:
    async with connect(f"{url}/s/{session}", compression=None) as ws:
        await ws.send(hello_text(ws, url, session, secret, participant, create=create))
        assert isinstance(await next_frame(ws), wire.Welcome)


def test_a_flood_of_idle_connections_leaves_joins_served_and_the_log_short(
    isolated_env: dict[str, str], tmp_path: Path
) -> None:
    """One address opens 200 idle connections (the issue's flood from one address kept three
    joins of five out), then 100 addresses two each, together past the file limit:
    participants still get in, and stderr holds a summary line or two and no traceback."""

    async def scenario(url: str) -> None:
        from_one = await flood(url, ["127.0.0.2"], 200)
        session, secret = new_session()
        for n in range(5):
            await join(url, session, secret, f"p{n}", create=n == 0)
        from_many = await flood(url, [f"127.0.1.{n}" for n in range(1, 101)], 2)
        for writer in from_one + from_many:
            writer.close()
        await asyncio.sleep(0.3)  # the flood's connections are gone from the relay's count
        await join(url, session, secret, "p5", False)

    with relay_process(
        isolated_env, tmp_path / "relay-data", "refusal_log_interval=0.5", "refusal_grace=0.2"
    ) as (url, process):
        asyncio.run(scenario(url))
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert 1 <= len(lines) <= 4, stderr
    assert all(" WARNING pairup.relay: refused " in line for line in lines), stderr
