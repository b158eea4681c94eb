"""Whether a piece of losstune imports torch, for the benchmarks that promise it does not."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path


def cli_code(*argv: str) -> str:
    """Python source that runs ``losstune ARGV`` in-process, then prints whether torch was imported."""
    return (
        "import sys\nfrom losstune.cli.app import main\n"
        f"sys.argv = ['losstune', *{list(argv)!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules)"
    )


def torch_imported(code: str, cwd: Path) -> str:
    """Run ``code`` (which prints ``'torch' in sys.modules`` last) and report the answer. When torch
    is not installed, an empty stand-in is put on the path so that an import would still show."""
    env = dict(os.environ)
    note = ""
    with tempfile.TemporaryDirectory() as tmp:
        if subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode != 0:
            stub = Path(tmp) / "torch"
            stub.mkdir()
            (stub / "__init__.py").write_text("")
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [tmp, env.get("PYTHONPATH")]))
            note = " (torch not installed: checked with a stub torch on the path)"
        proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return f"check failed ({(proc.stderr.strip().splitlines() or ['?'])[-1]})"
    return f"{lines[-1]}{note}"
