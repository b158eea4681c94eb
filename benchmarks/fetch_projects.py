"""Fetch the released OpenMMLab packages whose configs and code losstune is checked against.

Usage: ``python benchmarks/fetch_projects.py [DEST] [--only NAME...]``. Each package's wheel is
downloaded from the package index (``pip download --no-deps``; nothing is installed, imported or
run) and unpacked into ``DEST/site3`` (MMDetection 3.x and the projects built on it) or
``DEST/site2`` (MMDetection 2.x and its projects), so that ``DEST/site3/mmyolo/.mim/configs`` holds
MMYOLO's configs and putting ``DEST/site3`` on ``PYTHONPATH`` lets ``mmdet::`` bases resolve.
DEST defaults to ``.projects`` in the repository (ignored by git); the tests that compare the
shipped schemas with the released code look there, or in ``$LOSSTUNE_PROJECTS``.

A package already unpacked is not fetched again. Exit code 0 when every package asked for is
there, 1 when one could not be fetched (the index was unreachable, say).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEST = ROOT / ".projects"

# name -> (site, requirement, the top-level package the wheel unpacks)
PACKAGES: dict[str, tuple[str, str, str]] = {
    "mmdet": ("site3", "mmdet==3.3.0", "mmdet"),
    "mmyolo": ("site3", "mmyolo==0.6.0", "mmyolo"),
    "mmrotate": ("site3", "mmrotate==1.0.0rc1", "mmrotate"),
    "mmdet3d": ("site3", "mmdet3d==1.4.0", "mmdet3d"),
    "mmpose": ("site3", "mmpose==1.3.2", "mmpose"),
    "mmpretrain": ("site3", "mmpretrain==1.2.0", "mmpretrain"),
    "mmcls": ("site3", "mmcls==1.0.0rc6", "mmcls"),
    "mmrazor": ("site3", "mmrazor==1.0.0", "mmrazor"),
    "mmocr": ("site3", "mmocr==1.0.1", "mmocr"),
    "mmseg": ("site3", "mmsegmentation==1.2.2", "mmseg"),
    "mmaction": ("site3", "mmaction2==1.2.0", "mmaction"),
    "mmselfsup": ("site3", "mmselfsup==1.0.0", "mmselfsup"),
    "mmtrack": ("site3", "mmtrack==1.0.0rc1", "mmtrack"),
    "mmdet2": ("site2", "mmdet==2.28.2", "mmdet"),
    "mmtrack0": ("site2", "mmtrack==0.14.0", "mmtrack"),
    "mmrotate0": ("site2", "mmrotate==0.3.4", "mmrotate"),
}


def fetch(name: str, dest: Path) -> bool:
    """Download and unpack one package; whether it is there afterwards."""
    site, requirement, package = PACKAGES[name]
    target = dest / site
    if (target / package / "__init__.py").is_file():
        return True
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--dest", scratch, requirement],
            check=False,
        )
        wheels = sorted(Path(scratch).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            sys.stderr.write(f"could not fetch {requirement}\n")
            return False
        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheels[0]) as wheel:
            wheel.extractall(target)
    return (target / package / "__init__.py").is_file()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", nargs="?", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--only", nargs="+", choices=sorted(PACKAGES), help="fetch only these")
    args = parser.parse_args()
    names = args.only or list(PACKAGES)
    fetched = [fetch(name, args.dest) for name in names]
    sys.stdout.write(f"{sum(fetched)} of {len(names)} packages under {args.dest}\n")
    return 0 if all(fetched) else 1


if __name__ == "__main__":
    sys.exit(main())
