#!/usr/bin/env python
"""Regenerate ``expected.json`` for every case under ``cases/`` with mmengine.

Usage (from the repo root)::

    .venv/bin/python tests/fidelity/make_expected.py            # all cases
    .venv/bin/python tests/fidelity/make_expected.py CASE ...   # some cases
    .venv/bin/python tests/fidelity/make_expected.py --check    # verify only

Each case is loaded with ``Config.fromfile(<abs path>).to_dict()`` in a fresh
subprocess whose cwd is the case dir and whose environment has every
``{{$VAR:...}}`` name used by the case removed, then the optional ``env.json``
of the case applied.  The result is written as::

    {"entry": "main.py", "env": {...}, "mmengine_mode": "classic"|"lazy",
     "result": <to_dict()>}            # or "error": "<ExcName>: <msg[:200]>"

Encoding of values that JSON cannot tell apart:
  * tuple                      -> {"__tuple__": [...]}
  * dict with a non-str key    -> {"__dict_items__": [[key, value], ...]}
  * float inf / nan            -> {"__float__": "inf" | "-inf" | "nan"}
Dict key order is the order mmengine produced (json sort_keys=False).

Normalisation so that expectations are machine independent:
  * the absolute case dir inside any string  -> "<CASE_DIR>"
  * the random 6-hex suffix of mmengine's ``{{_base_.x}}`` placeholder strings
    (``_x_1a2b3c``) -> ``_x_<RAND6>`` (only visible when the placeholder is
    quoted, i.e. misused).
"""

import json
import math
import os
import os.path as osp
import re
import subprocess
import sys
import tempfile

HERE = osp.dirname(osp.abspath(__file__))
CASES = osp.join(HERE, "cases")
ENTRIES = ("main.py", "main.yaml", "main.yml", "main.json")
ENV_RE = re.compile(r'\{\{[\'"]?\s*\$(\w+)')
BASE_VAR_RE = re.compile(r"\{\{\s*_base_\.([\w\.]+)\s*\}\}")


def case_files(case_dir):
    for root, _, files in os.walk(case_dir):
        for f in files:
            if f.endswith((".py", ".yaml", ".yml", ".json")) and f not in ("expected.json", "env.json"):
                yield osp.join(root, f)


def scan(case_dir, regex):
    names = set()
    for path in case_files(case_dir):
        with open(path, encoding="utf-8") as f:
            names.update(regex.findall(f.read()))
    return names


def find_entry(case_dir):
    for e in ENTRIES:
        if osp.isfile(osp.join(case_dir, e)):
            return e
    raise FileNotFoundError(f"no entry config ({ENTRIES}) in {case_dir}")


def make_normalizer(case_dir):
    base_vars = sorted(scan(case_dir, BASE_VAR_RE), key=len, reverse=True)
    rand_res = [(re.compile("_" + re.escape(v) + "_[0-9a-f]{6}"), "_" + v + "_<RAND6>") for v in base_vars]

    def norm(s):
        s = s.replace(case_dir, "<CASE_DIR>")
        for rx, rep in rand_res:
            s = rx.sub(rep, s)
        return s

    return norm


def encode(v, norm):
    if isinstance(v, tuple):
        return {"__tuple__": [encode(x, norm) for x in v]}
    if isinstance(v, list):
        return [encode(x, norm) for x in v]
    if isinstance(v, dict):
        if all(isinstance(k, str) for k in v):
            return {norm(k): encode(x, norm) for k, x in v.items()}
        return {"__dict_items__": [[encode(k, norm), encode(x, norm)] for k, x in v.items()]}
    if isinstance(v, str):
        return norm(v)
    if isinstance(v, float) and (math.isinf(v) or math.isnan(v)):
        return {"__float__": repr(v)}
    if v is None or isinstance(v, (bool, int, float)):
        return v
    raise TypeError(f"cannot encode {type(v).__name__}: {v!r}")


def run_one(case_dir, out_path):
    """Runs in the subprocess: load the case and write the record."""
    import warnings

    warnings.simplefilter("ignore")
    from mmengine.config import Config

    entry = find_entry(case_dir)
    path = osp.join(case_dir, entry)
    norm = make_normalizer(case_dir)
    rec = {"entry": entry, "env": json.loads(os.environ["_LT_CASE_ENV"])}
    try:
        rec["mmengine_mode"] = "lazy" if Config._is_lazy_import(path) else "classic"
    except Exception as e:
        rec["mmengine_mode"] = f"undetermined ({type(e).__name__})"
    try:
        result = Config.fromfile(path).to_dict()
    except Exception as e:
        rec["error"] = f"{type(e).__name__}: {norm(str(e))[:200]}"
    else:
        rec["result"] = encode(result, norm)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(rec, f, sort_keys=False)


def generate(case_dir):
    env_file = osp.join(case_dir, "env.json")
    case_env = {}
    if osp.isfile(env_file):
        with open(env_file, encoding="utf-8") as f:
            case_env = json.load(f)
    env = dict(os.environ)
    for name in scan(case_dir, ENV_RE):
        env.pop(name, None)
    env.update(case_env)
    env["_LT_CASE_ENV"] = json.dumps(case_env)
    with tempfile.TemporaryDirectory() as tmp:
        out = osp.join(tmp, "rec.json")
        proc = subprocess.run(
            [sys.executable, osp.abspath(__file__), "--one", case_dir, out],
            cwd=case_dir,
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not osp.isfile(out):
            raise RuntimeError(f"{case_dir}: worker failed\n{proc.stderr}")
        with open(out, encoding="utf-8") as f:
            return json.load(f)


def dumps(rec):
    return json.dumps(rec, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def main(argv):
    if argv[:1] == ["--one"]:
        run_one(argv[1], argv[2])
        return 0
    check = "--check" in argv
    names = [a for a in argv if not a.startswith("--")]
    if not names:
        names = sorted(d for d in os.listdir(CASES) if osp.isdir(osp.join(CASES, d)))
    stale = 0
    for name in names:
        case_dir = osp.abspath(osp.join(CASES, name))
        text = dumps(generate(case_dir))
        exp = osp.join(case_dir, "expected.json")
        old = open(exp, encoding="utf-8").read() if osp.isfile(exp) else None
        if old != text:
            stale += 1
            print(f"{'STALE' if check else 'wrote'} {name}")
            if not check:
                with open(exp, "w", encoding="utf-8") as f:
                    f.write(text)
    print(f"{len(names)} cases, {stale} {'stale' if check else 'changed'}")
    return 1 if (check and stale) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
