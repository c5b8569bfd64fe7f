"""Every ```python block in README.md and docs/*.md runs, so the docs cannot drift from the code.

Blocks of one file run in order in one namespace (later blocks may use earlier names).
A block whose first line is ``# doc: skip`` is shown to readers but not run; a page with the line
``<!-- doc: needs onnx torch -->`` is skipped when one of those packages is missing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


NEEDS = re.compile(r"^<!-- doc: needs ([\w ]+) -->$", re.M)  # a page's optional packages: skipped without them


def python_blocks(page: Path) -> list[str]:
    return [b for b in BLOCK.findall(page.read_text()) if not b.startswith("# doc: skip")]


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_code_blocks_run(page, tmp_path, monkeypatch):
    for names in NEEDS.findall(page.read_text()):
        for name in names.split():
            pytest.importorskip(name)
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    namespace: dict = {"__name__": f"doc:{page.name}"}
    for i, block in enumerate(python_blocks(page)):
        try:
            exec(compile(block, f"{page.name}[block {i}]", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{page.name} block {i} failed: {exc!r}\n{block}") from exc


LINKED_ROW = re.compile(r"^\|.*\]\[(minigrad\.[\w.]+)\] \|(.*)\|\s*$", re.M)


def test_derivation_table_quotes_lines_that_exist():
    # docs/derivation.md points each equation at the line that implements it: the quoted code
    # must be in the linked method, or the table teaches code that is not there.
    import importlib
    import inspect

    rows = LINKED_ROW.findall((ROOT / "docs" / "derivation.md").read_text())
    assert len(rows) >= 4
    for target, code_cell in rows:
        parts = target.split(".")
        obj = importlib.import_module(".".join(parts[:2]))
        for name in parts[2:]:
            obj = getattr(obj, name)
        source = inspect.getsource(obj)
        snippets = re.findall(r"`([^`]+)`", code_cell)
        assert snippets, target
        for snippet in snippets:
            assert snippet in source, f"{target} does not contain `{snippet}`"
