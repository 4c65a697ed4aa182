"""Figures a reader can enlarge and a screen reader can describe (issue 21).

Every image inside a numbered figure becomes a link to its own full-size file (a tap on a phone
opens it, where it can be zoomed), and its alt text becomes the figure's caption without the
"Regenerate with ..." command, instead of the hashed file name Sphinx writes when an image has
none (MyST-NB's figure outputs have none).

Sphinx links an image to its file only when the image is scaled (``html_scaled_image_link``); this
does the same for every figure image, right after Sphinx has chosen the files it copies into
``_images`` (``post_process_images``), so the link names the copied file. Checked by
tests/book/test_site.py::test_figures_are_links_with_alt_text.
"""
from __future__ import annotations

import posixpath
import re

from docutils import nodes

# The caption's last sentence names the command that redraws the figure: no use to a listener.
_REGENERATE = re.compile(r"\s*Regenerate with\b.*$", re.S)


def caption_alt(figure: nodes.figure) -> str:
    """The figure's caption as one line of alt text (without the regenerate command)."""
    caption = next(iter(figure.findall(nodes.caption)), None)
    if caption is None:
        return ""
    return _REGENERATE.sub("", " ".join(caption.astext().split())).strip()


def link_figures(builder, doctree: nodes.Node) -> None:
    for figure in doctree.findall(nodes.figure):
        alt = caption_alt(figure)
        for image in list(figure.findall(nodes.image)):
            if alt and not image.get("alt"):
                image["alt"] = alt
            if isinstance(image.parent, nodes.reference):
                continue
            uri = image["uri"]
            target = posixpath.join(builder.imgpath, builder.images[uri]) if uri in builder.images else uri
            reference = nodes.reference("", "", internal=True, refuri=target, classes=["prompticl-figure-link"])
            image.replace_self(reference)
            reference.append(image)


def _patch_builder(app) -> None:
    builder = app.builder
    if builder.format != "html":
        return
    original = builder.post_process_images

    def post_process_images(doctree):
        original(doctree)
        link_figures(builder, doctree)

    builder.post_process_images = post_process_images


def setup(app):
    app.connect("builder-inited", _patch_builder)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
