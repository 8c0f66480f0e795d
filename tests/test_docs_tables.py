"""docs/make_tables.py: the tables of the docs and model cards are what the benchmark JSON says."""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def make_tables():
    spec = importlib.util.spec_from_file_location("make_tables", os.path.join(ROOT, "docs", "make_tables.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_document_matches_its_json(make_tables, capsys):
    assert make_tables.main(["--check"]) == 0, capsys.readouterr().out


def test_render_fills_each_marker_and_leaves_the_rest(make_tables):
    text = ("intro\n<!-- table: a -->\n<!-- end table -->\nmiddle\n<!-- table: b -->\n\n| old |\n\n"
            "<!-- end table -->\nend\n")
    rendered = make_tables.render(text, make=lambda name: f"| {name} |")
    assert rendered == ("intro\n<!-- table: a -->\n\n| a |\n\n<!-- end table -->\nmiddle\n<!-- table: b -->\n\n| b |\n\n"
                        "<!-- end table -->\nend\n")
    assert make_tables.render(rendered, make=lambda name: f"| {name} |") == rendered


def test_a_stale_document_is_reported_and_rewritten(make_tables, tmp_path, monkeypatch, capsys):
    (tmp_path / "doc.md").write_text("<!-- table: similarity -->\n\n| stale |\n\n<!-- end table -->\n")
    monkeypatch.setattr(make_tables, "ROOT", str(tmp_path))
    monkeypatch.setattr(make_tables, "DOCUMENTS", ["doc.md"])
    assert make_tables.main(["--check"]) == 1 and "doc.md" in capsys.readouterr().out
    assert "| stale |" in (tmp_path / "doc.md").read_text()  # --check writes nothing
    assert make_tables.main([]) == 0 and make_tables.main(["--check"]) == 0
    assert "mean Spearman" in (tmp_path / "doc.md").read_text()


def test_an_unknown_table_is_one_clear_error(make_tables):
    with pytest.raises(ValueError, match="Received: NAME='nope'"):
        make_tables.render("<!-- table: nope -->\n", make=make_tables.table)
