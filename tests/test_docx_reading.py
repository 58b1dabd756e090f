"""A docx's text is read from its main document part alone (intake.completeness): the
same text python-docx gives from the whole package, merged cells and all."""

from __future__ import annotations

import io
import zipfile

import docx

from intake.completeness import _docx_text, _main_document, read_docx


def _document() -> bytes:
    d = docx.Document()
    d.add_heading("县林业局5月政务公开主题日活动开展情况", level=1)
    d.add_paragraph("2023年5月16日，我局开展政务公开主题日活动。").add_run("\t现场解读政策。")
    table = d.add_table(rows=3, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "横向合并"
    table.cell(1, 2).merge(table.cell(2, 2)).text = "纵向合并"
    table.cell(2, 0).text = "参加人数：120"
    d.add_paragraph("联系人：王某")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def test_the_main_part_alone_reads_as_the_whole_package() -> None:
    payload = _document()
    whole = _docx_text(docx.Document(io.BytesIO(payload)))
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        assert _docx_text(_main_document(zf)) == whole
    assert "横向合并\n横向合并" in whole and "纵向合并" in whole
    facts = read_docx(payload)
    assert facts.error is None and facts.text == whole and facts.chars > 40


def test_a_package_without_its_relationships_is_still_read_or_refused_in_one_line() -> None:
    import zipfile

    payload = _document()
    src = zipfile.ZipFile(io.BytesIO(payload))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            if info.filename != "_rels/.rels":
                out.writestr(info, src.read(info))
    facts = read_docx(buf.getvalue())
    assert facts.error == "文档无法读取"  # python-docx refuses it as well


def test_only_the_parts_read_are_inflated_and_a_bomb_among_them_is_refused() -> None:
    """The reader inflates `_rels/.rels` and the main part, each up to its cap: a large
    member it never reads costs nothing, and a main part that is a bomb is refused in
    the same words as the whole-archive check."""
    from tests.zip_bombs import MB, docx_bomb

    facts = read_docx(docx_bomb(64 * MB))
    assert facts.chars == 0 and facts.error is not None and "解压后过大" in facts.error

    payload = _document()
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(payload)) as src,
        zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for info in src.infolist():
            out.writestr(info, src.read(info))
        # 20 MB of zeros in a part no reader of the text needs (inflating it took the time)
        out.writestr("customXml/item9.xml", b"\0" * (20 * MB))
    facts = read_docx(buf.getvalue())
    assert facts.error is None and facts.text == read_docx(payload).text
