"""Benchmark: ``losstune server`` driven over stdio the way an editor drives it.

On a copy of MMDetection 3.3.0's RetinaNet config (five bases) it measures, with JSON-RPC written
to the server's stdin and read from its stdout:

* keystroke: one character typed into the open config (``didChange``) until its diagnostics are
  published; with the debounce set to 0 ms (the check itself) and with the default 20 ms;
* hover: a hover on an inherited-and-overridden loss parameter until its answer;
* memory: the server's resident set before and after a thousand edits (each waited for);
* references over MMDetection 3.3.0's whole tree (the workspace folder): on a key of RetinaNet's
  model base (about thirty configs inherit it) and of ``default_runtime.py`` (nearly every config
  does), the first time (the search of the workspace) and after (kept); after a keystroke in the
  base (kept), and a hover in the base (which lists the configs that override the value); and the
  first references in a config few inherit, once an earlier search has read the tree.

Targets: a keystroke's diagnostics in at most 50 ms, a hover in at most 20 ms, flat memory.
It prints the median and 90th percentile of each, the two memory figures, and the references'.

Run from the repository root: ``python benchmarks/bench_server.py [--site SITE] [--edits N]``
(SITE defaults to ``.projects/site3``, where the MMDetection 3.3.0 wheel is extracted).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CONFIG = "retinanet/retinanet_r50_fpn_1x_coco.py"
OVERRIDE = "model = dict(bbox_head=dict(loss_cls=dict(gamma=1.5)))\n"
LEAF = "atss/atss_r50_fpn_1x_coco.py"


class Client:
    """A minimal LSP client over the server's pipes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.next_id = 0

    def send(self, method: str, params: Any, request: bool = False) -> int | None:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        if request:
            self.next_id += 1
            msg["id"] = self.next_id
        body = json.dumps(msg).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return msg.get("id")

    async def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        head = await self.proc.stdout.readuntil(b"\r\n\r\n")
        length = next(int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
        message: dict[str, Any] = json.loads(await self.proc.stdout.readexactly(length))
        return message

    async def until(self, method: str | None = None, answer: int | None = None) -> dict[str, Any]:
        while True:
            msg = await self.receive()
            if method is not None and msg.get("method") == method:
                return msg
            if answer is not None and msg.get("id") == answer and "method" not in msg:
                return msg

    async def request(self, method: str, params: Any) -> dict[str, Any]:
        return await self.until(answer=self.send(method, params, request=True))


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def _figures(name: str, times: list[float], target_ms: float) -> None:
    ms = sorted(t * 1000 for t in times)
    p90 = ms[int(len(ms) * 0.9) - 1]
    print(f"{name:<34} median {statistics.median(ms):6.1f} ms  p90 {p90:6.1f} ms  (target <= {target_ms:.0f} ms)")


async def run(configs: Path, edits: int, repeats: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-server-"))
    try:
        for part in ("retinanet", "_base_"):
            shutil.copytree(configs / part, work / part)
        path = work / CONFIG
        uri = path.as_uri()
        text = path.read_text() + OVERRIDE
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "losstune", "server", stdin=-1, stdout=-1, env=env, limit=1 << 24
        )
        client = Client(proc)
        await client.request("initialize", {"capabilities": {}, "initializationOptions": {"debounceMs": 0}})
        client.send("initialized", {})
        client.send(
            "textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}
        )
        await client.until("textDocument/publishDiagnostics")
        line = text.splitlines().index(OVERRIDE.rstrip("\n"))
        column = OVERRIDE.index("gamma")
        version = 1

        async def keystroke() -> float:
            nonlocal version
            version += 1
            at = {"line": line, "character": len(OVERRIDE) - 1}
            # Type a space at the end of the line, or take it away again: the text stays valid.
            change = (
                {"range": {"start": at, "end": at}, "text": " "}
                if version % 2 == 0
                else {
                    "range": {"start": at, "end": {"line": line, "character": len(OVERRIDE)}},
                    "text": "",
                }
            )
            start = time.perf_counter()
            client.send(
                "textDocument/didChange",
                {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]},
            )
            await client.until("textDocument/publishDiagnostics")
            return time.perf_counter() - start

        for _ in range(5):
            await keystroke()  # warm up
        _figures("keystroke -> diagnostics (0 ms)", [await keystroke() for _ in range(repeats)], 50)
        client.send("workspace/didChangeConfiguration", {"settings": {"losstune": {"debounceMs": 20}}})
        await client.until("textDocument/publishDiagnostics")
        _figures("keystroke -> diagnostics (20 ms)", [await keystroke() for _ in range(repeats)], 50)
        client.send("workspace/didChangeConfiguration", {"settings": {"losstune": {"debounceMs": 0}}})
        await client.until("textDocument/publishDiagnostics")

        hovers = []
        for _ in range(repeats):
            start = time.perf_counter()
            answer = await client.request(
                "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": line, "character": column}}
            )
            hovers.append(time.perf_counter() - start)
            assert answer.get("result"), answer
        _figures("hover", hovers, 20)

        before = _rss_kib(proc.pid)
        for _ in range(edits):
            await keystroke()
        after = _rss_kib(proc.pid)
        print(f"memory over {edits} edits: {before / 1024:.1f} MiB -> {after / 1024:.1f} MiB")
        await client.request("shutdown", None)
        client.send("exit", None)
        await proc.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _at(text: str, part: str) -> dict[str, int]:
    """The LSP position of the first ``part`` in ``text``."""
    line = next(i for i, row in enumerate(text.splitlines()) if part in row)
    return {"line": line, "character": text.splitlines()[line].index(part)}


async def references(configs: Path, repeats: int) -> None:
    """References and hover in bases of the real tree, the tree the workspace (read, never written)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "losstune", "server", stdin=-1, stdout=-1, env=env, limit=1 << 24
    )
    client = Client(proc)
    await client.request(
        "initialize",
        {"capabilities": {}, "rootUri": configs.as_uri(), "initializationOptions": {"debounceMs": 0}},
    )
    client.send("initialized", {})
    opened: dict[str, str] = {}
    for base in ("_base_/models/retinanet_r50_fpn.py", "_base_/default_runtime.py", LEAF):
        path = configs / base
        opened[base] = path.read_text()
        client.send(
            "textDocument/didOpen",
            {"textDocument": {"uri": path.as_uri(), "languageId": "python", "version": 1, "text": opened[base]}},
        )
        await client.until("textDocument/publishDiagnostics")

    async def timed(method: str, base: str, part: str, extra: dict[str, Any] | None = None) -> tuple[float, Any]:
        params = {"textDocument": {"uri": (configs / base).as_uri()}, "position": _at(opened[base], part)}
        start = time.perf_counter()
        answer = await client.request(method, {**params, **(extra or {})})
        return time.perf_counter() - start, answer.get("result")

    context = {"context": {"includeDeclaration": False}}
    for base, part in (("_base_/models/retinanet_r50_fpn.py", "depth=50"), ("_base_/default_runtime.py", "log_level")):
        first, found = await timed("textDocument/references", base, part, context)
        again = [(await timed("textDocument/references", base, part, context))[0] for _ in range(repeats)]
        print(
            f"references on {part!r} of {base}: {len(found)} places; first {first * 1000:.0f} ms "
            f"(the search), then median {statistics.median(again) * 1000:.1f} ms"
        )
    first, found = await timed("textDocument/references", LEAF, "model = dict", context)
    print(f"references in {LEAF} (the tree read already): {len(found)} places, first {first * 1000:.0f} ms")
    base = "_base_/models/retinanet_r50_fpn.py"
    uri = (configs / base).as_uri()
    times = []
    for version in range(2, 2 + repeats):
        at = {"line": 0, "character": 0}
        client.send(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{"range": {"start": at, "end": at}, "text": "\n"}],
            },
        )
        opened[base] = "\n" + opened[base]
        await client.until("textDocument/publishDiagnostics")
        times.append((await timed("textDocument/references", base, "depth=50", context))[0])
    _figures("references after a keystroke in the base", times, 50)
    first, answer = await timed("textDocument/hover", base, "gamma=2.0")
    assert answer, answer
    _figures(
        "hover in the base", [(await timed("textDocument/hover", base, "gamma=2.0"))[0] for _ in range(repeats)], 20
    )
    await client.request("shutdown", None)
    client.send("exit", None)
    await proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", type=Path, default=REPO / ".projects" / "site3")
    parser.add_argument("--edits", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    configs = args.site / "mmdet" / ".mim" / "configs"
    if not configs.is_dir():
        sys.exit(f"no MMDetection configs under {args.site} (run benchmarks/fetch_projects.py)")
    asyncio.run(run(configs, args.edits, args.repeats))
    asyncio.run(references(configs, args.repeats))


if __name__ == "__main__":
    main()
