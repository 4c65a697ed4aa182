"""The bibliography's entries labelled by author and year, as the book cites them.

The chapters cite author-year ("Chang et al. (2025)", sphinxcontrib-bibtex's ``author_year``
reference style), so a numbered bibliography ([1]-[8]) would not match (issue 21). pybtex's
built-in label styles are numbers or alpha codes; this registers the formatting style
``authoryear`` (pybtex's ``plain`` entries, sorted by author, year and title, with labels such as
"Chang et al. 2025"), which _config.yml selects with ``bibtex_default_style``.
"""
from __future__ import annotations

from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _surname(person) -> str:
    # "von Oswald": the particle belongs to the name as cited.
    return " ".join(person.prelast_names + person.last_names)


class AuthorYearLabelStyle(BaseLabelStyle):
    """Labels "Smith 2020", "Smith and Jones 2020", "Smith et al. 2020"; a, b... on a clash."""

    def format_labels(self, sorted_entries):
        labels = []
        for entry in sorted_entries:
            people = entry.persons.get("author") or entry.persons.get("editor") or []
            names = [_surname(p).replace("{", "").replace("}", "") for p in people]
            who = (names[0] if len(names) == 1 else f"{names[0]} and {names[1]}" if len(names) == 2
                   else f"{names[0]} et al." if names else entry.key)
            labels.append(f"{who} {entry.fields.get('year', 'n.d.')}")
        for label in labels:
            clashes = [i for i, other in enumerate(labels) if other == label]
            if len(clashes) > 1:
                for n, i in enumerate(clashes):
                    labels[i] = label + "abcdefghijklmnopqrstuvwxyz"[n]
        return iter(labels)


class AuthorYearStyle(PlainStyle):
    default_label_style = AuthorYearLabelStyle


register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)


def setup(app):
    return {"parallel_read_safe": True, "parallel_write_safe": True}
