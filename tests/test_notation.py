"""The notation appendix lists exactly the MathJax macros that _config.yml defines."""

from __future__ import annotations

import re

import yaml

from conftest import BOOK, ROOT


def test_every_macro_is_documented_and_every_documented_macro_exists():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    defined = set(config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"])
    notation = (BOOK / "notation.md").read_text()
    # The 'macro' columns of the appendix: backquoted TeX commands such as `\vtheta`.
    documented = set(re.findall(r"`\\([A-Za-z]+)`", notation))
    assert defined - documented == set(), "macros missing from book/notation.md"
    assert documented - defined == set(), "book/notation.md documents macros _config.yml lacks"
