"""Package faces that import their modules on first use (PEP 562), so that ``import sentilens``,
``sentilens --help`` and the light commands load no torch, OpenVINO or scikit-learn.

A face (a package's ``__init__.py``) names what it exports once, as imports under
``if TYPE_CHECKING:``, lists them in ``__all__`` as before, and ends with ``lazy_face(__name__)``::

    from typing import TYPE_CHECKING

    from sentilens.utils import lazy_face

    if TYPE_CHECKING:
        from sentilens.data.images import decode_image, views_of
        from sentilens.data.sources import load_dataset

    __all__ = ["decode_image", "load_dataset", "views_of"]

    lazy_face(__name__)

mypy and import-linter read those imports as if they ran; at run time ``lazy_face`` reads the same
block from the face's source and gives the package a module ``__getattr__`` that imports the
module a name comes from on its first use (``from sentilens.data import load_dataset`` imports
``sentilens.data.sources`` and what it needs, nothing else), then keeps the value on the package.
So adding a name to a face stays what it was: one import line (or one more name on a line) under
``TYPE_CHECKING`` and its entry in ``__all__``.  ``from module import *`` lines are followed
through that module's ``__all__``; ``from package import submodule`` imports the submodule.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def face_names(package: str, source: str) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """What the ``if TYPE_CHECKING:`` imports of a face's ``source`` export: name -> (module, name
    there), and the modules of its ``from module import *`` lines."""
    names: dict[str, tuple[str, str]] = {}
    stars: list[str] = []
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.If) and _is_type_checking(node.test)):
            continue
        for statement in node.body:
            if not isinstance(statement, ast.ImportFrom):
                continue
            module = importlib.util.resolve_name("." * statement.level + (statement.module or ""), package)
            for alias in statement.names:
                if alias.name == "*":
                    stars.append(module)
                else:
                    names[alias.asname or alias.name] = (module, alias.name)
    return names, stars


class LazyFace(ModuleType):
    """A package face whose names are imported on first use (the class :func:`lazy_face` gives it).

    Python sets a submodule as an attribute of its package once it is imported; where a face exports
    a name that is also one of its submodules (``sentilens.explain.splice`` the module, ``splice`` the
    function), the face keeps the name for the export, as an eager ``from .splice import splice``
    after the submodule's import did.
    """

    _lazy_names: dict[str, tuple[str, str]]
    _lazy_stars: list[str]

    def _resolve(self, name: str) -> Any:
        package = self.__name__
        if name in self._lazy_names:
            module, original = self._lazy_names[name]
            if module == package:  # ``from package import submodule``
                return importlib.import_module(f"{package}.{original}")
            imported = importlib.import_module(module)
            if hasattr(imported, original):
                return getattr(imported, original)
            return importlib.import_module(f"{module}.{original}")  # ``from face import submodule``
        for module in self._lazy_stars:
            imported = importlib.import_module(module)
            if name in getattr(imported, "__all__", ()):
                return getattr(imported, name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_lazy_"):
            raise AttributeError(name)
        value = self._resolve(name)
        ModuleType.__setattr__(self, name, value)  # later uses find it without calling __getattr__
        return value

    def __dir__(self) -> list[str]:
        return sorted({*self.__dict__, *self._lazy_names, *getattr(self, "__all__", ())})

    def __setattr__(self, name: str, value: Any) -> None:
        exported = self._lazy_names.get(name) if "_lazy_names" in self.__dict__ else None
        submodule = isinstance(value, ModuleType) and value.__name__ == f"{self.__name__}.{name}"
        if submodule and exported is not None and exported != (self.__name__, name):
            return  # the import system naming a submodule that shares an exported name: keep the export
        ModuleType.__setattr__(self, name, value)


def lazy_face(package: str) -> None:
    """Make the package ``package`` (a face, already in ``sys.modules``) import each name of its
    ``if TYPE_CHECKING:`` block on first use; see the module docstring and :class:`LazyFace`.

    Names not in the block raise :class:`AttributeError` as usual, so ``from package import submodule``
    still imports the submodule, and mypy (which does not see this call) still checks every name.
    """
    face = sys.modules[package]
    names, stars = face_names(package, Path(str(face.__file__)).read_text(encoding="utf-8"))
    face.__class__ = LazyFace
    vars(face).update(_lazy_names=names, _lazy_stars=stars)
    for name in names:  # a clashing submodule imported before this call (by the face itself)
        value = vars(face).get(name)
        if isinstance(value, ModuleType) and value.__name__ == f"{package}.{name}" and names[name] != (package, name):
            del vars(face)[name]
