"""One front end per format (losstune.loader.frontend), and the resolver's public base lookup."""

from __future__ import annotations

import ast
from pathlib import Path

import losstune
from losstune.loader import frontend, pysource
from losstune.loader.resolve import Resolver
from losstune.loader.source import SourceText
from losstune.loader.values import LDict
from losstune.model import Diagnostic

ROOT = Path(__file__).resolve().parent.parent


def test_python_front_names_each_base_with_its_span() -> None:
    src = SourceText.from_file("c.py", "_base_ = ['a.py',\n          'b.py']\nx = _base_.y\n")
    diagnostics: list[Diagnostic] = []
    parsed = frontend.parse_python(src, diagnostics)
    assert parsed is not None
    front = frontend.python_front(src, parsed, diagnostics)
    assert [(entry, span.line, span.column) for entry, span in front.bases if span] == [
        ("a.py", 1, 11),
        ("b.py", 2, 11),
    ]
    assert front.reads_base and not diagnostics


def test_python_front_gives_a_new_tree_each_time() -> None:
    src = SourceText.from_file("c.py", "model = dict(loss=dict(gamma=2.0))\n")
    parsed = frontend.parse_python(src, [])
    assert parsed is not None
    front = frontend.python_front(src, parsed, [])
    first, second = front.tree(LDict(), []), front.tree(LDict(), [])
    assert first == second == {"model": {"loss": {"gamma": 2.0}}}
    assert first["model"] is not second["model"]


def test_data_front_keeps_its_data_as_read() -> None:
    src = SourceText.from_file("c.yaml", "_base_: a.yaml\n_deprecation_: {expected: b.yaml}\nx: 1\n")
    front = frontend.yaml_front(src, [])
    assert front is not None and [entry for entry, _ in front.bases] == ["a.yaml"]
    tree = front.tree(LDict(), [])
    tree.pop("_deprecation_")
    assert "_deprecation_" in front.tree(LDict(), []) and "_deprecation_" in front.data


def test_data_front_refuses_what_is_not_a_mapping() -> None:
    diagnostics: list[Diagnostic] = []
    assert frontend.json_front(SourceText.from_file("c.json", "[1, 2]"), diagnostics) is None
    assert [(d.code, d.message) for d in diagnostics] == [
        ("LT018", "`c.json` must hold a mapping of config keys at its top level, not a list")
    ]
    diagnostics = []
    assert frontend.json_front(SourceText.from_file("c.json", "{"), diagnostics) is None
    assert [d.code for d in diagnostics] == ["LT001"]


def test_resolve_base_is_the_resolver_s_cache(tmp_path: Path) -> None:
    (tmp_path / "base.py").write_text("a = 1\n")
    (tmp_path / "child.py").write_text("_base_ = './base.py'\nb = 2\n")
    resolver = Resolver()
    base = resolver.resolve_base(str(tmp_path / "base.py"), None)
    assert base.cfg == {"a": 1}
    assert losstune.load(tmp_path / "child.py", resolver=resolver).to_dict() == {"a": 1, "b": 2}
    assert resolver.resolve_base(str(tmp_path / "base.py"), None) is base


def test_no_module_calls_a_private_method_of_the_resolver() -> None:
    for path in (ROOT / "losstune").rglob("*.py"):
        if path.name == "resolve.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("_resolve", "_resolve_uncached", "_read", "_front"):
                raise AssertionError(f"{path.relative_to(ROOT)}:{node.lineno} calls the resolver's {node.attr}")


def test_a_value_named_twice_becomes_two_values(tmp_path: Path) -> None:
    # mmengine's _substitute_base_vars copies every container, so no two keys share one.
    (tmp_path / "base.py").write_text("a = dict(pipeline=[dict(type='Resize', scale=(1, 2))])\n")
    (tmp_path / "c.py").write_text(
        "_base_ = './base.py'\n"
        "step = dict(type='Resize', scale=((1, 2), (3, 4)))\n"
        "pipeline = [step, step]\n"
        "a = dict(pipeline=pipeline)\n"
        "b = dict(pipeline=pipeline, again=dict(pipeline=pipeline))\n"
    )
    tree = losstune.load(tmp_path / "c.py").tree
    lists = [tree["pipeline"], tree["a"]["pipeline"], tree["b"]["pipeline"], tree["b"]["again"]["pipeline"]]
    steps = [step for pipeline in lists for step in pipeline]
    assert len({id(x) for x in lists}) == 4 and len({id(x) for x in steps}) == 8
    assert all(step == {"type": "Resize", "scale": ((1, 2), (3, 4))} for step in steps)
    assert tree["b"].origins.keys() == {"pipeline", "again"}


def _reparsed(text: str, env: dict[str, str]) -> tuple[ast.Module, ast.Module | None, SourceText]:
    written = ast.parse(text)
    src = SourceText.from_file("c.py", text, env)
    assert src.edited_lines is not None
    again = pysource.reparse(written, src.text, src.text_line_starts, src.edited_lines)
    return written, again[0] if again else None, src


def test_a_templated_file_parses_again_only_the_statements_a_template_changed() -> None:
    text = (
        "_base_ = 'a.py'\n"
        "# a comment with {{$NAME:x}} in it\n"
        "a = 1; b = '{{$NAME:x}}'; c = 2\n"
        "d = dict(\n"
        "    e={{_base_.e}},\n"
        "    f=3)\n"
        "@dec('{{ fileBasename }}')\n"
        "def g(): pass\n"
        "h = 4\n"
    )
    written, again, src = _reparsed(text, {"NAME": "é"})
    assert again is not None
    full = ast.parse(src.text)
    assert ast.dump(again, include_attributes=True) == ast.dump(full, include_attributes=True)
    kept = [s for s in again.body if any(s is w for w in written.body)]
    assert [ast.unparse(s) for s in kept] == ["_base_ = 'a.py'", "h = 4"]


def test_a_template_that_changes_where_statements_end_parses_the_whole_text() -> None:
    # The value opens a string that the next template closes: each run alone does not parse.
    text = "a = ('{{$Q:x}}')\nb = 2\nc = ('{{$Q:x}}')\n"
    written, again, src = _reparsed(text, {"Q": "', ''"})
    assert again is None
    parsed = frontend.parse_python(src, [], written=written)
    assert parsed is not None
    assert ast.dump(parsed.module, include_attributes=True) == ast.dump(ast.parse(src.text), include_attributes=True)
    assert [ast.unparse(s) for s in parsed.module.body] == ["a = ('', \")\\nb = 2\\nc = ('', \")"]
    _, again, _ = _reparsed("from __future__ import annotations\na = '{{$Q:1}}'\n", {"Q": "2"})
    assert again is None
