"""Files that came by mail: attachments, thumbnails and the raw mail. They are the sender's
content, never the board's own page: served as downloads (images may be shown inline, but
only the bitmap types browsers cannot run), with a CSP that sandboxes them and nosniff."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, request, send_file
from werkzeug.wrappers import Response

from tracker.models import Attachment, Message
from tracker.web import FILE_CSP
from tracker.web.context import ri, session
from tracker.web.data import can_inline

bp = Blueprint("files", __name__)


def _stored(relpath: str | None) -> Path:
    """The file under the storage dir; 404 for anything else (or missing)."""
    if not relpath:
        abort(404)
    root = ri().config.storage_dir.resolve()
    path = (root / relpath).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        abort(404)
    return path


def _sandboxed(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = FILE_CSP
    resp.headers["Cache-Control"] = "private, max-age=3600"
    return resp


@bp.route("/files/<int:attachment_id>")
def attachment(attachment_id: int) -> Response:
    with session() as s:
        a = s.get(Attachment, attachment_id)
        if a is None or a.kind != "file":
            abort(404)
        path = _stored(a.relpath)
        inline = request.args.get("inline") == "1" and can_inline(a)
        name = a.filename or a.safe_name or f"file-{a.id}"
        mimetype = a.content_type if inline else "application/octet-stream"
    return _sandboxed(
        send_file(path, mimetype=mimetype, as_attachment=not inline, download_name=name)
    )


@bp.route("/thumbs/<int:attachment_id>")
def thumbnail(attachment_id: int) -> Response:
    with session() as s:
        a = s.get(Attachment, attachment_id)
        if a is None or a.kind != "file" or not a.thumb_relpath:
            abort(404)
        path = _stored(a.thumb_relpath)
    mimetype = "image/webp" if path.suffix == ".webp" else "image/jpeg"
    if path.suffix == ".png":
        mimetype = "image/png"
    return _sandboxed(send_file(path, mimetype=mimetype, download_name=f"thumb-{attachment_id}"))


@bp.route("/messages/<int:message_id>/raw")
def raw(message_id: int) -> Response:
    with session() as s:
        msg = s.get(Message, message_id)
        if msg is None:
            abort(404)
        path = _stored(msg.raw_path)
    return _sandboxed(
        send_file(
            path,
            mimetype="application/octet-stream",
            as_attachment=True,
            download_name=f"message-{message_id}.eml",
        )
    )
