"""The project as an installed package: the ``interp`` console script and ``python -m interp`` work from any
folder, against this checkout and its bundled data, and pyproject.toml pins what the requirements files pin."""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import REPO

IN_CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")


def pins(requirements: Path) -> dict[str, str]:
    """name -> version of a requirements file's own ``name==version`` lines (not its -r, -e or index lines)."""
    found = {}
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = PIN.match(line)
        assert match, f"{requirements.name}: {line!r} is not pinned as name==version"
        found[match[1].lower()] = match[2]
    return found


def declared(specifiers: list[str]) -> dict[str, str]:
    found = {}
    for specifier in specifiers:
        match = PIN.match(specifier.replace(" ", ""))
        assert match, f"pyproject.toml: {specifier!r} is not pinned as name==version"
        found[match[1].lower()] = match[2]
    return found


def test_pyproject_pins_what_the_requirements_files_pin():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert declared(project["dependencies"]) == pins(REPO / "requirements.txt")
    assert declared(project["optional-dependencies"]["dev"]) == pins(REPO / "requirements-dev.txt")
    assert set(pins(REPO / "requirements.txt")) >= {"torch", "streamlit", "captum", "numpy", "pillow", "plotly"}


PYPI = "https://pypi.org/simple"
CPU_INDEX = "pytorch-cpu"


def test_uv_lock_holds_the_pins_with_torch_from_the_cpu_index_and_the_rest_from_pypi():
    """uv.lock (what Community Cloud installs first) agrees with pyproject.toml and the requirements files:
    every pinned package at its pinned version, torch the CPU build from PyTorch's index and nothing else from
    there, the project's own requirements as pyproject.toml declares them."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    cpu_index = next(i["url"] for i in pyproject["tool"]["uv"]["index"] if i["name"] == CPU_INDEX)
    assert pyproject["tool"]["uv"]["sources"] == {"torch": {"index": CPU_INDEX}}
    assert all(i.get("explicit") for i in pyproject["tool"]["uv"]["index"])  # an index used only where named
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    packages = {p["name"]: p for p in lock["package"]}
    assert len(packages) == len(lock["package"]), "one version of each package"
    wanted = pins(REPO / "requirements.txt") | pins(REPO / "requirements-dev.txt")
    got = {name: packages[name]["version"] for name in wanted if name in packages}
    assert got == {name: version + ("+cpu" if name == "torch" else "") for name, version in wanted.items()}
    assert packages["torch"]["source"] == {"registry": cpu_index}
    assert packages["torch"]["wheels"] and all(
        w["url"].startswith(cpu_index + "/torch-") for w in packages["torch"]["wheels"]
    )
    project = packages.pop(pyproject["project"]["name"])
    packages.pop("torch")
    assert {name: p["source"] for name, p in packages.items() if p["source"] != {"registry": PYPI}} == {}
    requires = project["metadata"]["requires-dist"]
    assert {r["name"]: r["specifier"].removeprefix("==") for r in requires if "marker" not in r} == declared(
        pyproject["project"]["dependencies"]
    )
    assert {r["name"]: r["specifier"].removeprefix("==") for r in requires if "marker" in r} == declared(
        pyproject["project"]["optional-dependencies"]["dev"]
    )
    assert next(r for r in requires if r["name"] == "torch")["index"] == cpu_index
    # requirements.txt, for pip, names the same index for torch
    assert f"--extra-index-url {cpu_index}" in (REPO / "requirements.txt").read_text().splitlines()


def test_the_console_script_is_the_cli():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["interp"].partition(":")
    assert (module, function) == ("interp.cli", "console")
    from interp import cli

    assert callable(getattr(cli, function))


def installed_script() -> Path:
    """The ``interp`` script beside this Python; skipped when the project is not installed (a failure in CI)."""
    script = shutil.which("interp", path=str(Path(sys.executable).parent))
    if script is None:
        message = "the interp console script is not installed: run `python -m pip install -e .`"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return Path(script)


def run_elsewhere(command: list[str], folder: Path) -> subprocess.CompletedProcess:
    """``command`` from ``folder``, outside the repository, with the bundled weights (no INTERP_WEIGHTS_DIR)."""
    env = {key: value for key, value in os.environ.items() if key not in ("INTERP_WEIGHTS_DIR", "PYTHONPATH")}
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def test_the_installed_package_is_this_checkout(tmp_path):
    installed_script()
    code = "import interp, interp.cli, ui; print(interp.__file__); print(ui.__file__)"
    result = run_elsewhere([sys.executable, "-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(REPO / "interp" / "__init__.py"), str(REPO / "ui" / "__init__.py")], (
        "another copy of the project is installed: run `python -m pip install -e .` in this checkout"
    )


@pytest.mark.parametrize("how", ["script", "module"])
def test_classify_from_another_folder(tmp_path, dalmatian_path, how):
    script = installed_script()
    command = [str(script)] if how == "script" else [sys.executable, "-m", "interp"]
    result = run_elsewhere([*command, "classify", str(dalmatian_path), "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    first = json.loads(result.stdout)["top"][0]
    assert first["index"] == 41 and first["label"] == "dalmatian" and first["probability"] > 0.99
    assert list(tmp_path.iterdir()) == []  # nothing written where it was run


def test_the_script_names_itself(tmp_path):
    result = run_elsewhere([str(installed_script()), "--help"], tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("usage: interp ")
