"""Notebook parameters: discovered by papermill, converted and checked against their types."""

from __future__ import annotations

import pytest
from helpers import make_notebook

from mantik_jupyter.errors import ConfigError, NotFoundError
from mantik_jupyter.params import notebook_parameters, parse_assignments, resolve_parameters

PARAMS = '''lr: float = 0.1  # learning rate
epochs: int = 3
tag: str = "x"
verbose: bool = False
layers: list = [1, 2]
opts: dict = {"a": 1}
seed = 7
'''


@pytest.fixture
def declared(tmp_path):
    return notebook_parameters(make_notebook(tmp_path / "nb.ipynb", PARAMS, "print(lr)"))


def test_types_come_from_annotations_or_defaults(declared):
    assert {n: p.type for n, p in declared.items()} == {
        "lr": "float", "epochs": "int", "tag": "str", "verbose": "bool", "layers": "list",
        "opts": "dict", "seed": "int",
    }
    assert declared["lr"].help == "learning rate"
    assert declared["epochs"].default == 3


def test_command_line_texts_become_typed_values(declared):
    texts = parse_assignments(["lr=0.5", "epochs=4", "tag=a b", "verbose=true",
                               "layers=[3, 4]", "opts={b: 2}", "seed=9"])
    assert resolve_parameters(declared, {}, texts) == {
        "lr": 0.5, "epochs": 4, "tag": "a b", "verbose": True, "layers": [3, 4],
        "opts": {"b": 2}, "seed": 9,
    }


def test_text_values_keep_equals_signs_and_spaces(declared):
    assert resolve_parameters(declared, {}, parse_assignments(["tag=a=b c"])) == {"tag": "a=b c"}


@pytest.mark.parametrize("item, expected", [
    ("epochs=four", "expects int"), ("lr=fast", "expects float"), ("verbose=maybe", "expects bool"),
    ("layers=3", "expects list"), ("opts=[1]", "expects dict"), ("epochs=1.5", "expects int"),
])
def test_wrong_types_are_named(declared, item, expected):
    with pytest.raises(ConfigError, match=expected) as err:
        resolve_parameters(declared, {}, parse_assignments([item]))
    assert err.value.key == f"Parameters.{item.split('=')[0]}"


def test_typed_values_from_yaml_are_checked(declared):
    assert resolve_parameters(declared, {"lr": 1, "tag": 5}, {}) == {"lr": 1.0, "tag": "5"}
    with pytest.raises(ConfigError, match="expects int"):
        resolve_parameters(declared, {"epochs": True}, {})
    with pytest.raises(ConfigError, match="expects list"):
        resolve_parameters(declared, {"layers": {"a": 1}}, {})


def test_unknown_parameter_lists_the_known_ones(declared):
    with pytest.raises(ConfigError) as err:
        resolve_parameters(declared, {}, {"learning_rate": "1"})
    assert "unknown parameter 'learning_rate'" in err.value.message
    assert "epochs" in err.value.message


def test_malformed_assignment():
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        parse_assignments(["lr"])


def test_missing_and_non_notebooks(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        notebook_parameters(tmp_path / "nope.ipynb")
    text = tmp_path / "script.py"
    text.write_text("print(1)")
    with pytest.raises(ConfigError, match="not a notebook"):
        notebook_parameters(text)
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="not a valid notebook"):
        notebook_parameters(broken)


def test_a_notebook_without_parameters_cell(tmp_path):
    declared = notebook_parameters(make_notebook(tmp_path / "nb.ipynb", None, "print(1)"))
    assert declared == {}
    with pytest.raises(ConfigError, match="no parameters cell"):
        resolve_parameters(declared, {}, {"x": "1"})
