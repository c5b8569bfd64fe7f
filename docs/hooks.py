"""MkDocs hook: copy MathJax from an installed PyPI package into the built site (no CDN)."""

from __future__ import annotations

import importlib.metadata
import shutil
from pathlib import Path


def on_post_build(config, **kwargs) -> None:
    try:
        dist = importlib.metadata.distribution("django-static-mathjax")
    except importlib.metadata.PackageNotFoundError as exc:
        raise RuntimeError("MathJax assets missing: pip install --no-deps django-static-mathjax") from exc
    es5 = Path(str(dist.locate_file("mathjax/static/mathjax/es5")))
    target = Path(config["site_dir"]) / "assets" / "mathjax"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(es5 / "tex-mml-chtml.js", target / "tex-mml-chtml.js")
    fonts = target / "output" / "chtml" / "fonts"
    if fonts.exists():
        shutil.rmtree(fonts)
    shutil.copytree(es5 / "output" / "chtml" / "fonts", fonts)
