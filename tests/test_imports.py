"""What starting sentilens loads: ``import sentilens`` and the ``--help`` of every command load no
torch, OpenVINO, NNCF, scikit-learn, matplotlib or Ray (issue 21).  No timing: which modules are in
``sys.modules`` after each step, in a fresh interpreter, so the tests hold on any machine.

The commands are read from the CLI itself (every registered command and group, hidden ones too),
so a command added later is checked without editing this file.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import sentilens
from sentilens.utils.lazy import face_names

#: Top-level packages that none of the light steps may import.
HEAVY = ("torch", "torchvision", "openvino", "nncf", "sklearn", "matplotlib", "ray", "skimage", "scipy")

SRC = Path(sentilens.__file__).parent

#: Runs in a fresh interpreter: each step, then the heavy packages loaded so far, as JSON lines.
#: Steps run in order in one process; the first step that loads a heavy package is the one to blame.
PROBE = textwrap.dedent(
    """
    import json, sys
    HEAVY = {heavy!r}

    def loaded():
        return sorted(m for m in HEAVY if m in sys.modules)

    def report(step):
        print(json.dumps({{"step": step, "heavy": loaded()}}), flush=True)

    {body}
    """
)

HELP_BODY = textwrap.dedent(
    """
    import typer.main
    from typer.testing import CliRunner

    from sentilens.cli import app

    report("import sentilens.cli")

    def paths(command, prefix=()):
        yield prefix
        if hasattr(command, "commands"):  # a group (typer vendors its own click)
            for name, sub in sorted(command.commands.items()):
                yield from paths(sub, (*prefix, name))

    runner = CliRunner()
    for path in paths(typer.main.get_command(app)):
        result = runner.invoke(app, [*path, "--help"])
        if result.exit_code != 0:
            print(json.dumps({"step": " ".join(path), "error": result.output}), flush=True)
            sys.exit(1)
        report("sentilens " + " ".join((*path, "--help")))
    """
)


def probe(body: str) -> list[dict[str, object]]:
    """The JSON lines that ``body`` reports, run in a fresh interpreter with this checkout's sentilens."""
    code = PROBE.format(heavy=HEAVY, body=body)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr + done.stdout
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_the_probe_sees_a_heavy_import() -> None:
    """The check itself can fail: importing matplotlib is reported."""
    assert probe('import matplotlib\nreport("matplotlib")') == [{"step": "matplotlib", "heavy": ["matplotlib"]}]


def test_import_sentilens_loads_nothing_heavy() -> None:
    steps = probe('import sentilens\nreport("import sentilens")\nsentilens.RunSettings()\nreport("RunSettings")')
    assert steps == [{"step": "import sentilens", "heavy": []}, {"step": "RunSettings", "heavy": []}]


def test_help_of_every_command_loads_nothing_heavy() -> None:
    steps = probe(HELP_BODY)
    heavy = [step for step in steps if step["heavy"]]
    assert not heavy, f"first step that loaded a heavy package: {heavy[0]}"
    names = {str(step["step"]) for step in steps}
    # The walk reached the nested groups, the hidden older names and a plain command.
    for expected in ("sentilens explain gradcam --help", "sentilens suggest-layers --help", "sentilens --help"):
        assert expected in names
    assert len(steps) > 15


FACES = sorted(
    path.parent.relative_to(SRC.parent).as_posix().replace("/", ".")
    for path in SRC.rglob("__init__.py")
    if "lazy_face(__name__)" in path.read_text(encoding="utf-8")
)


def test_every_package_face_is_lazy() -> None:
    """The faces of all layers (and the package itself) use lazy_face."""
    layers = {"app", "reports", "evaluation", "selection", "explain", "training", "runtime", "models", "data", "utils"}
    assert {"sentilens", *(f"sentilens.{layer}" for layer in layers)} <= set(FACES)


@pytest.mark.parametrize("face", FACES)
def test_a_face_lists_what_it_imports_and_each_name_resolves(face: str) -> None:
    """``__all__`` and the ``if TYPE_CHECKING:`` imports name the same things, and every name
    resolves to the object of the module it is imported from."""
    module = importlib.import_module(face)
    names, stars = face_names(face, Path(str(module.__file__)).read_text(encoding="utf-8"))
    from_stars = {name for star in stars for name in importlib.import_module(star).__all__}
    eager = {"lazy_face"} if face == "sentilens.utils" else set()
    assert set(module.__all__) == (set(names) | from_stars | eager) - {"groups"}
    for name in module.__all__:
        value = getattr(module, name)
        if name in names:
            source, original = names[name]
            imported = importlib.import_module(source)
            expected = getattr(imported, original, None)
            if expected is None:  # ``from face import submodule``
                expected = importlib.import_module(f"{source}.{original}")
            assert value is expected, name


def test_a_submodule_named_like_an_export_leaves_the_export() -> None:
    """``sentilens.explain.splice`` is a module and ``splice`` the function the face exports; importing
    the module (as the import system does, setting it on the package) leaves the function."""
    code = (
        "import sentilens.explain.splice, sentilens.explain as e, types\n"
        'report("module" if isinstance(e.splice, types.ModuleType) else e.splice.__name__)'
    )
    assert [step["step"] for step in probe(code)] == ["splice"]


def test_an_unknown_name_is_an_attribute_error() -> None:
    import sentilens.data

    with pytest.raises(AttributeError, match="sentilens.data.*no_such_name"):
        sentilens.data.no_such_name  # noqa: B018
    with pytest.raises(ImportError):
        from sentilens.data import no_such_name  # noqa: F401


def test_face_names_reads_only_the_type_checking_block() -> None:
    source = textwrap.dedent(
        """
        from typing import TYPE_CHECKING
        from os import sep
        if TYPE_CHECKING:
            from .images import decode_image as decode, views_of
            from sentilens.data.sources import *
        """
    )
    names, stars = face_names("sentilens.data", source)
    assert names == {
        "decode": ("sentilens.data.images", "decode_image"),
        "views_of": ("sentilens.data.images", "views_of"),
    }
    assert stars == ["sentilens.data.sources"]
