"""The reader's experience, tested in headless Chromium over the served book (issue 8).

A package, so that its conftest does not replace ``tests/conftest.py`` as module ``conftest``.
"""
