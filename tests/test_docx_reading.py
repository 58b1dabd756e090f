"""A docx's text is read from its main document part alone (intake.completeness): the
same text python-docx gives from the whole package, merged cells and all."""

from __future__ import annotations

import io

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
    assert _docx_text(_main_document(payload)) == whole
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
