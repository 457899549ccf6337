"""Idempotency-Key for API writes, held in the database so that every worker sees it.

A client sends ``Idempotency-Key: <up to 128 printable characters>`` with a write. The first request
with that key (per acting user) runs; its successful response is stored and a retry with the same key
and the same request (method, endpoint, body; uploaded files by content) gets that response again,
marked ``Idempotent-Replayed: true``, without running the write again. The same key with a different
request is refused (422). Keys expire after 24 hours.

Exactly once across workers: the record is added to the session *before* the service runs, so it is
committed in the service's own transaction. Two concurrent requests with one key cannot both commit
(unique user+key); the loser's write is rolled back entirely and it is told to retry (409) or, when
the winner has finished, gets the winner's response. A write that fails leaves no record, so the
client may retry with the same key.
"""

import hashlib
import json
from datetime import timedelta

from flask import request
from flask_babel import lazy_gettext as _
from sqlalchemy import delete

from app.extensions import db
from app.models import IdempotencyRecord
from app.models.base import utcnow

from .problems import Problem

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 128


class IdempotencyError(Exception):
    CODES = {400: "invalid_idempotency_key", 409: "idempotency_in_progress", 422: "idempotency_key_reused"}

    def __init__(self, status, message):
        super().__init__(str(message))
        self.status = status
        self.message = message
        self.code = self.CODES[status]

    def problem(self):
        """The error as the API answers it."""
        return Problem(self.code, self.message, status=self.status)


def request_key():
    """The header's value, validated; None when absent."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise IdempotencyError(400, _("Idempotency-Key 必须是 1 至 128 个可打印字符"))
    return key


def fingerprint(data, files):
    """SHA-256 over method, endpoint, the parsed body and each file's name and content."""
    h = hashlib.sha256()
    h.update(request.method.encode())
    h.update(b"\0" + request.path.encode() + b"\0")
    h.update(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
    for field in sorted(files):
        fs = files[field]
        h.update(b"\0" + field.encode() + b"\0" + (fs.filename or "").encode("utf-8") + b"\0")
        stream = fs.stream
        pos = stream.tell()
        for chunk in iter(lambda stream=stream: stream.read(65536), b""):
            h.update(chunk)
        stream.seek(pos)
    return h.hexdigest()


def _find(user_id, key):
    return db.session.query(IdempotencyRecord).filter_by(user_id=user_id, key=key).one_or_none()


def replay_or_refuse(record, request_hash):
    """(status, body) to answer with for an existing record; raises IdempotencyError otherwise."""
    if record.request_hash != request_hash:
        raise IdempotencyError(422, _("该 Idempotency-Key 已用于另一个不同的请求；新的请求请使用新的 Idempotency-Key"))
    if record.status_code is None:
        raise IdempotencyError(409, _("使用该 Idempotency-Key 的请求仍在处理中，请稍后重试"))
    return record.status_code, json.loads(record.response_body)


def begin(user_id, key, request_hash):
    """Look the key up. Returns ("replay", (status, body)) or ("new", record).

    A new record is added to the session uncommitted: the service's commit stores it with the write.
    Expired records (this key's and others') are purged first.
    """
    now = utcnow()
    db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < now))
    db.session.commit()
    record = _find(user_id, key)
    if record is not None:
        return "replay", replay_or_refuse(record, request_hash)
    record = IdempotencyRecord(
        user_id=user_id,
        key=key,
        endpoint=request.path[:255],
        request_hash=request_hash,
        created_at=now,
        expires_at=now + TTL,
    )
    db.session.add(record)
    return "new", record


def finish(record, status, body):
    """Store the response of a committed write."""
    record.status_code = status
    record.response_body = json.dumps(body, ensure_ascii=False, default=str)
    db.session.commit()


def after_conflict(user_id, key, request_hash):
    """After a failed write: if a concurrent request with the same key won, its answer; else None."""
    db.session.rollback()
    record = _find(user_id, key)
    if record is None:
        return None
    return replay_or_refuse(record, request_hash)


def request_key_or_problem():
    """request_key(), its error as the API's problem."""
    try:
        return request_key()
    except IdempotencyError as exc:
        raise exc.problem() from None


def begin_or_problem(user_id, key, request_hash):
    try:
        return begin(user_id, key, request_hash)
    except IdempotencyError as exc:
        raise exc.problem() from None
