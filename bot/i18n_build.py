"""The build hook that compiles the catalogues: setuptools' ``build_py`` (named in pyproject.toml under
``[tool.setuptools.cmdclass]``), which after copying the package compiles each
``bot/locale/<language>/LC_MESSAGES/prikbord.po`` of the source into the ``.mo`` of the built package (the
``.po`` are not shipped), so an installed prikbord reads compiled catalogues (bot/i18n.py). Never imported
at run time.

An editable install copies nothing, so it has no ``.mo``: bot/i18n.py compiles the ``.po`` in memory then.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # setuptools is a build requirement only, and not typed in every version

    class build_py:  # setuptools' name
        build_lib: str

        def get_package_dir(self, package: str) -> str: ...

        def run(self) -> None: ...

else:
    from setuptools.command.build_py import build_py


class BuildWithCatalogues(build_py):
    def run(self) -> None:
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        source = Path(self.get_package_dir("bot"), "locale")
        for po in sorted(source.glob("*/LC_MESSAGES/*.po")):
            target = Path(self.build_lib, "bot", "locale", po.relative_to(source)).with_suffix(".mo")
            target.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as text:
                catalog = read_po(text)
            with target.open("wb") as compiled:
                write_mo(compiled, catalog)
