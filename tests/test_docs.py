"""The code in the concept and guide pages runs (quickstart training is run by `snnkd demo`)."""

import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(p for p in DOCS.glob("concepts/*.md"))
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_python_blocks_run(page):
    blocks = BLOCK.findall(page.read_text())
    assert blocks, f"{page.name} has no python example"
    namespace = {}
    for block in blocks:
        exec(compile(block, str(page), "exec"), namespace)
