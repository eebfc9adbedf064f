"""``make mutants`` keeps up with the adapters: every condition they write has a mutant that finds
it, and every explanation names guards the list knows."""

from tests.mutants import MUTANTS, REDUNDANT, ROOT, unreviewed


def test_every_condition_the_adapters_write_is_on_the_reviewed_list_and_found() -> None:
    assert unreviewed() == []


def test_each_mutant_changes_its_condition_alone() -> None:
    for mutant in MUTANTS:
        text = (ROOT / mutant.path).read_text()
        start = mutant.locate(text)
        changed = text[:start] + mutant.new + text[start + len(mutant.old) :]
        assert changed != text
        assert len(changed) - len(text) == len(mutant.new) - len(mutant.old)


def test_names_are_unique_and_every_explanation_names_known_guards() -> None:
    names = [mutant.name for mutant in MUTANTS]
    assert len(names) == len(set(names))
    for name, (partners, test) in REDUNDANT.items():
        assert name in names
        assert set(partners) <= set(names) - {name}
        assert test.startswith("tests/")
        assert "::" in test
